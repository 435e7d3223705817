#include "model/image/decode.h"

#include <algorithm>
#include <limits>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "model/errors.h"

namespace pio {
namespace {

// Pillow's rule for 16-bit samples: grey-only PNGs open in mode "I" and convert("RGB") clips
// the value to 255; every other 16-bit layout (RGB, RGBA, grey+alpha) keeps the high byte.
cv::Mat to_8bit(const cv::Mat& m) {
  if (m.depth() == CV_8U) return m;
  if (m.depth() != CV_16U) throw ModelError("unsupported image sample depth");
  cv::Mat out(m.rows, m.cols, CV_MAKETYPE(CV_8U, m.channels()));
  const bool clip = m.channels() == 1;
  const size_t row_values = size_t(m.cols) * m.channels();
  for (int y = 0; y < m.rows; ++y) {
    const auto* in = m.ptr<uint16_t>(y);
    auto* o = out.ptr<uint8_t>(y);
    for (size_t i = 0; i < row_values; ++i) {
      o[i] = clip ? uint8_t(std::min<uint16_t>(in[i], 255)) : uint8_t(in[i] >> 8);
    }
  }
  return out;
}

}  // namespace

RgbImage decode_rgb(std::span<const uint8_t> encoded) {
  if (encoded.size() > size_t(std::numeric_limits<int>::max())) {
    throw ModelError("cannot decode image: encoded data over 2 GiB");
  }
  // IMREAD_UNCHANGED: keep 16-bit samples and alpha, and ignore EXIF orientation, as Pillow does.
  const cv::Mat raw(1, int(encoded.size()), CV_8U, const_cast<uint8_t*>(encoded.data()));
  cv::Mat img;
  try {
    img = cv::imdecode(raw, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw ModelError(std::string("cannot decode image: ") + e.what());
  }
  if (img.empty()) throw ModelError("cannot decode image: data is corrupt or truncated");
  img = to_8bit(img);

  RgbImage out;
  out.width = img.cols;
  out.height = img.rows;
  out.pixels.resize(size_t(img.cols) * img.rows * 3);
  cv::Mat rgb(img.rows, img.cols, CV_8UC3, out.pixels.data());
  switch (img.channels()) {
    case 1: cv::cvtColor(img, rgb, cv::COLOR_GRAY2RGB); break;
    case 3: cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB); break;
    case 4: cv::cvtColor(img, rgb, cv::COLOR_BGRA2RGB); break;  // alpha dropped, not composited
    default: throw ModelError("unsupported image channel count");
  }
  return out;
}

}  // namespace pio
