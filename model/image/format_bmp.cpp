// BMP: header probe, and decoding through OpenCV's BMP reader, which sizes its image from the same
// header fields as the probe (so from the size the caller checked).
#include <cstdlib>
#include <limits>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "model/image/image_formats.h"

namespace pio {
namespace {

constexpr uint32_t kOs2CoreHeader = 12;
// Compression values whose rows are stored plainly: BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS.
bool uncompressed(uint32_t compression) { return compression == 0 || compression == 3 || compression == 6; }

// Bytes an uncompressed BMP needs: the pixel offset plus every row padded to 4 bytes. OpenCV
// reads the same, but reports a short file only on stderr; this names it. 0 when compressed.
uint64_t uncompressed_size(const ByteReader& b, const ImageHeader& h) {
  const uint32_t dib_size = b.le32(14);
  const uint32_t bpp = dib_size == kOs2CoreHeader ? b.le16(24) : b.le16(28);
  const uint32_t compression = dib_size == kOs2CoreHeader ? 0 : b.le32(30);
  if (!uncompressed(compression)) return 0;
  const uint64_t stride = (uint64_t(h.width) * bpp + 31) / 32 * 4;
  return b.le32(10) + stride * uint64_t(h.height);
}

}  // namespace

ImageHeader probe_bmp(const ByteReader& b) {
  const uint32_t dib_size = b.le32(14);
  if (dib_size == kOs2CoreHeader) return stored_header(ImageFormat::bmp, b.le16(18), b.le16(20));
  if (dib_size < 40) throw ModelError("invalid BMP: unknown header size");
  // Signed: a negative height means rows are stored top-down.
  const auto width = int32_t(b.le32(18));
  const auto height = int32_t(b.le32(22));
  if (width < 0) throw ModelError("invalid BMP: negative width");
  b.need(30, 4);  // the compression field, read before decoding
  return stored_header(ImageFormat::bmp, width, std::abs(int64_t(height)));
}

RgbImage decode_bmp(std::span<const uint8_t> data, const ImageHeader& header) {
  if (data.size() > size_t(std::numeric_limits<int>::max())) {
    throw ModelError("cannot decode BMP image: encoded data over 2 GiB");
  }
  if (data.size() < uncompressed_size(ByteReader(data, "BMP"), header)) {
    throw truncated_error(ImageFormat::bmp);
  }
  // IMREAD_UNCHANGED: keep the channels as stored; palettes expand to colour as Pillow's do.
  const cv::Mat raw(1, int(data.size()), CV_8U, const_cast<uint8_t*>(data.data()));
  cv::Mat img;
  try {
    img = cv::imdecode(raw, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw ModelError(std::string("cannot decode BMP image: ") + e.what());
  }
  if (img.empty() || img.depth() != CV_8U) {
    throw ModelError("cannot decode BMP image: the data is corrupt or truncated");
  }
  RgbImage out = allocate_stored(header, img.cols, img.rows);
  cv::Mat rgb(img.rows, img.cols, CV_8UC3, out.pixels.data());
  switch (img.channels()) {
    case 1: cv::cvtColor(img, rgb, cv::COLOR_GRAY2RGB); break;
    case 3: cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB); break;
    case 4: cv::cvtColor(img, rgb, cv::COLOR_BGRA2RGB); break;  // alpha dropped, not composited
    default: throw ModelError("cannot decode BMP image: unsupported channel count");
  }
  return out;
}

}  // namespace pio
