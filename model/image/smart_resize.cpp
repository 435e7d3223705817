#include "model/image/smart_resize.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "model/errors.h"

namespace pio {

void check_image_dims(int64_t height, int64_t width) {
  if (height <= 0 || width <= 0) {
    throw ModelError("image has zero size (" + std::to_string(width) + "x" +
                     std::to_string(height) + ")");
  }
  if (std::max(height, width) > kMaxAspectRatio * std::min(height, width)) {
    throw ModelError("image aspect ratio " + std::to_string(width) + "x" +
                     std::to_string(height) + " exceeds the model's limit of " +
                     std::to_string(kMaxAspectRatio) + ":1");
  }
}

ResizedSize smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                         int64_t max_pixels) {
  check_image_dims(height, width);
  const double h = double(height), w = double(width), f = double(factor);
  // std::nearbyint rounds half to even under the default rounding mode, like Python's round().
  auto h_bar = int64_t(std::nearbyint(h / f)) * factor;
  auto w_bar = int64_t(std::nearbyint(w / f)) * factor;
  if (h_bar * w_bar > max_pixels) {
    const double beta = std::sqrt(h * w / double(max_pixels));
    h_bar = std::max(factor, int64_t(std::floor(h / beta / f)) * factor);
    w_bar = std::max(factor, int64_t(std::floor(w / beta / f)) * factor);
  } else if (h_bar * w_bar < min_pixels) {
    const double beta = std::sqrt(double(min_pixels) / (h * w));
    h_bar = int64_t(std::ceil(h * beta / f)) * factor;
    w_bar = int64_t(std::ceil(w * beta / f)) * factor;
  }
  return {h_bar, w_bar};
}

}  // namespace pio
