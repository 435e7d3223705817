// smart_resize: the Qwen2/3-VL rule that picks the resized image size (transformers'
// image_processing_qwen2_vl.smart_resize, reproduced operation for operation).
#pragma once

#include <cstdint>

namespace pio {

// The model refuses images whose long side exceeds 200 times the short side.
inline constexpr int64_t kMaxAspectRatio = 200;

struct ResizedSize {
  int64_t height;
  int64_t width;
};

// Throws ModelError for zero sizes and aspect ratios beyond kMaxAspectRatio.
void check_image_dims(int64_t height, int64_t width);

// Both sides become multiples of `factor` (patch 16 x merge 2 = 32), rounded half-to-even as
// Python's round() does, then scaled (keeping the aspect ratio) into [min_pixels, max_pixels].
ResizedSize smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                         int64_t max_pixels);

}  // namespace pio
