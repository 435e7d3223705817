// The whole Qwen3-VL image processor: encoded bytes in, pixel_values and grid out.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "model/image/pixel_values.h"
#include "model/image/preprocessor_config.h"
#include "model/image/rgb_image.h"

namespace pio {

// Pixel budgets for one call. min/max_pixels bound the resized image (smart_resize);
// max_decoded_pixels bounds the image as declared in its header, checked before decoding.
struct ImageLimits {
  static constexpr int64_t kDefaultMaxDecodedPixels = int64_t(1) << 26;  // 8192 x 8192

  int64_t min_pixels;
  int64_t max_pixels;
  int64_t max_decoded_pixels = kDefaultMaxDecodedPixels;

  // The config's budgets, as the HF processor uses them when a request sets none.
  static ImageLimits from_config(const PreprocessorConfig& cfg) {
    return {cfg.min_pixels, cfg.max_pixels, kDefaultMaxDecodedPixels};
  }
};

// Decode (PNG, JPEG, WebP, GIF, BMP) -> RGB as load_image gives it (EXIF orientation applied)
// -> smart_resize -> antialiased bicubic -> rescale/normalise -> patchify. Throws ModelError for
// unsupported, truncated or corrupt data, zero-size images, a declared size over
// limits.max_decoded_pixels, and aspect ratios over 200.
PixelValues preprocess_image(std::span<const uint8_t> encoded, const PreprocessorConfig& cfg,
                             const ImageLimits& limits);

// The steps after decoding: smart_resize, resample, rescale/normalise, patchify.
PixelValues preprocess_rgb(const RgbImage& rgb, const PreprocessorConfig& cfg, const ImageLimits& limits);

// The encoded bytes of an image file; throws ModelError when it cannot be read.
std::vector<uint8_t> read_image_file(const std::filesystem::path& path);

}  // namespace pio
