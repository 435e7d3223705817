// Antialiased bicubic resize on 8-bit pixels, bit-exact with torchvision's uint8 path
// (F.resize(..., BICUBIC, antialias=True), as Qwen2VLImageProcessorFast calls it), which itself
// follows Pillow-SIMD: Keys cubic with a = -0.5, the support widened by the scale when shrinking,
// int16 fixed-point weights with an adaptive precision, a horizontal then a vertical pass, and
// the result rounded and clamped to 0..255 after each pass. OpenCV's INTER_CUBIC differs
// (no antialiasing, a = -0.75). Pillow's own resize (the HF "slow" processor) is the same
// algorithm with int32 weights at a fixed 22-bit precision; it is available as an option.
#pragma once

#include <cstdint>
#include <vector>

#include "model/image/rgb_image.h"

namespace pio {

// The weights' fixed-point format. Pillow's finer weights round some sums differently: about
// 0.3% of the values differ by one level between the two.
enum class ResampleArithmetic {
  torchvision,  // int16, adaptive precision: the HF fast processor, which Qwen3-VL ships with
  pillow,       // 22 bits: PIL.Image.resize(BICUBIC), the HF slow processor
};

// The fixed-point filter of one axis: output i reads `count[i]` inputs from `start[i]`.
struct AxisFilter {
  std::vector<int64_t> start;
  std::vector<int64_t> count;
  std::vector<int32_t> weights;  // taps per output, zero-padded to `taps`
  int64_t taps = 0;
  int precision = 0;  // weights are scaled by 2^precision
};

AxisFilter make_bicubic_filter(int64_t in_size, int64_t out_size,
                               ResampleArithmetic arithmetic = ResampleArithmetic::torchvision);

RgbImage resize_bicubic(const RgbImage& in, int64_t out_width, int64_t out_height,
                        ResampleArithmetic arithmetic = ResampleArithmetic::torchvision);

}  // namespace pio
