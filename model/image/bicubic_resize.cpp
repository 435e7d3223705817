#include "model/image/bicubic_resize.h"

#include <algorithm>
#include <cmath>

namespace pio {
namespace {

// Keys' cubic convolution kernel, a = -0.5 (written as ATen writes it, so doubles round alike).
double cubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2.0) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0.0;
}

uint8_t clamp_to_u8(int32_t v) { return uint8_t(std::clamp(v, 0, 255)); }

// One output sample: weighted sum in fixed point with a rounding bias, then shift and clamp.
uint8_t convolve(const uint8_t* src, int64_t stride, const int32_t* w, int64_t n, int precision) {
  int32_t sum = 1 << (precision - 1);
  for (int64_t j = 0; j < n; ++j) sum += int32_t(src[j * stride]) * w[j];
  return clamp_to_u8(sum >> precision);  // arithmetic shift, as the SIMD code does
}

RgbImage resize_horizontal(const RgbImage& in, int64_t out_width, ResampleArithmetic arithmetic) {
  const AxisFilter f = make_bicubic_filter(in.width, out_width, arithmetic);
  RgbImage out{out_width, in.height, std::vector<uint8_t>(size_t(out_width * in.height * 3))};
  for (int64_t y = 0; y < in.height; ++y) {
    for (int64_t x = 0; x < out_width; ++x) {
      const uint8_t* src = in.at(y, f.start[x]);
      const int32_t* w = &f.weights[size_t(x * f.taps)];
      uint8_t* dst = &out.pixels[size_t((y * out_width + x) * 3)];
      for (int c = 0; c < 3; ++c) dst[c] = convolve(src + c, 3, w, f.count[x], f.precision);
    }
  }
  return out;
}

RgbImage resize_vertical(const RgbImage& in, int64_t out_height, ResampleArithmetic arithmetic) {
  const AxisFilter f = make_bicubic_filter(in.height, out_height, arithmetic);
  RgbImage out{in.width, out_height, std::vector<uint8_t>(size_t(in.width * out_height * 3))};
  const int64_t row = in.width * 3;
  for (int64_t y = 0; y < out_height; ++y) {
    const int32_t* w = &f.weights[size_t(y * f.taps)];
    const uint8_t* src = in.at(f.start[y], 0);
    uint8_t* dst = &out.pixels[size_t(y * row)];
    for (int64_t i = 0; i < row; ++i) dst[i] = convolve(src + i, row, w, f.count[y], f.precision);
  }
  return out;
}

// torchvision: the largest precision (at most 22 bits) at which twice the largest weight of the
// axis still fits int16. Pillow: always 22 bits (32 minus 8 for the pixel, minus 2 of headroom).
int weight_precision(double max_weight, ResampleArithmetic arithmetic) {
  constexpr int kMaxBits = 22;
  if (arithmetic == ResampleArithmetic::pillow) return kMaxBits;
  int bits = 0;
  for (; bits < kMaxBits; ++bits) {
    if (int(0.5 + max_weight * double(1 << (bits + 1))) >= (1 << 15)) break;
  }
  return bits;
}

}  // namespace

AxisFilter make_bicubic_filter(int64_t in_size, int64_t out_size, ResampleArithmetic arithmetic) {
  const double scale = double(in_size) / double(out_size);
  // Shrinking widens the kernel by the scale: that is the antialiasing.
  const double support = scale >= 1.0 ? 2.0 * scale : 2.0;
  const double inv_scale = scale >= 1.0 ? 1.0 / scale : 1.0;

  AxisFilter f;
  f.taps = int64_t(std::ceil(support)) * 2 + 1;
  f.start.resize(size_t(out_size));
  f.count.resize(size_t(out_size));
  std::vector<double> weights(size_t(out_size * f.taps), 0.0);
  double max_weight = 0.0;
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = scale * (double(i) + 0.5);
    const int64_t lo = std::max<int64_t>(int64_t(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(int64_t(center + support + 0.5), in_size);
    const int64_t n = std::clamp<int64_t>(hi - lo, 0, f.taps);
    double* w = &weights[size_t(i * f.taps)];
    double total = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      w[j] = cubic((double(j + lo) - center + 0.5) * inv_scale);
      total += w[j];
    }
    if (total != 0.0) {
      for (int64_t j = 0; j < n; ++j) {
        w[j] /= total;
        max_weight = std::max(max_weight, w[j]);
      }
    }
    f.start[size_t(i)] = lo;
    f.count[size_t(i)] = n;
  }
  f.precision = weight_precision(max_weight, arithmetic);
  f.weights.resize(weights.size());
  for (size_t k = 0; k < weights.size(); ++k) {
    const double v = weights[k] * double(1 << f.precision);
    f.weights[k] = int32_t(v < 0 ? v - 0.5 : v + 0.5);
  }
  return f;
}

RgbImage resize_bicubic(const RgbImage& in, int64_t out_width, int64_t out_height,
                        ResampleArithmetic arithmetic) {
  // Like ATen and Pillow, an axis whose size does not change is not filtered at all.
  RgbImage out = in.width == out_width ? in : resize_horizontal(in, out_width, arithmetic);
  return out.height == out_height ? out : resize_vertical(out, out_height, arithmetic);
}

}  // namespace pio
