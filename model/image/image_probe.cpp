#include "model/image/image_probe.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "model/errors.h"

namespace pio {
namespace {

// A bounds-checked view: every read past the end is a truncated header.
class Bytes {
 public:
  Bytes(std::span<const uint8_t> d, const char* format) : d_(d), format_(format) {}
  size_t size() const { return d_.size(); }
  uint8_t u8(size_t at) const {
    need(at + 1);
    return d_[at];
  }
  uint32_t be16(size_t at) const { return (uint32_t(u8(at)) << 8) | u8(at + 1); }
  uint32_t be32(size_t at) const { return (be16(at) << 16) | be16(at + 2); }
  uint32_t le16(size_t at) const { return u8(at) | (uint32_t(u8(at + 1)) << 8); }
  uint32_t le24(size_t at) const { return le16(at) | (uint32_t(u8(at + 2)) << 16); }
  uint32_t le32(size_t at) const { return le16(at) | (le16(at + 2) << 16); }
  bool starts_with(size_t at, const char* magic) const {
    const size_t n = std::strlen(magic);
    return at + n <= d_.size() && std::memcmp(d_.data() + at, magic, n) == 0;
  }
  void need(size_t n) const {
    if (n > d_.size()) throw ModelError(std::string("truncated ") + format_ + " header");
  }

 private:
  std::span<const uint8_t> d_;
  const char* format_;
};

ImageHeader probe_png(const Bytes& b) {
  // The first chunk must be IHDR: width and height as big-endian u32 at bytes 16 and 20.
  if (!b.starts_with(12, "IHDR")) throw ModelError("invalid PNG: first chunk is not IHDR");
  return {ImageFormat::png, b.be32(16), b.be32(20)};
}

bool is_jpeg_sof(uint8_t m) {
  // SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

ImageHeader probe_jpeg(const Bytes& b) {
  size_t at = 2;  // after SOI
  for (;;) {
    if (b.u8(at) != 0xFF) throw ModelError("invalid JPEG: expected a marker");
    while (b.u8(at) == 0xFF) ++at;  // fill bytes
    const uint8_t marker = b.u8(at++);
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length field
    if (marker == 0xD9 || marker == 0xDA) throw ModelError("invalid JPEG: no frame header");
    const uint32_t length = b.be16(at);
    if (is_jpeg_sof(marker)) return {ImageFormat::jpeg, b.be16(at + 5), b.be16(at + 3)};
    if (length < 2) throw ModelError("invalid JPEG: bad segment length");
    at += length;
  }
}

ImageHeader probe_webp(const Bytes& b) {
  // RIFF container; the first chunk at byte 12 is VP8 (lossy), VP8L (lossless) or VP8X (extended).
  if (b.starts_with(12, "VP8 ")) {
    // Key-frame header: 3-byte tag, start code 9D 01 2A, then 14-bit width and height.
    if (b.u8(23) != 0x9D || b.u8(24) != 0x01 || b.u8(25) != 0x2A) {
      throw ModelError("invalid WebP: bad VP8 start code");
    }
    return {ImageFormat::webp, b.le16(26) & 0x3FFF, b.le16(28) & 0x3FFF};
  }
  if (b.starts_with(12, "VP8L")) {
    if (b.u8(20) != 0x2F) throw ModelError("invalid WebP: bad VP8L signature");
    const uint32_t bits = b.le32(21);  // 14 bits width-1, then 14 bits height-1
    return {ImageFormat::webp, int64_t(bits & 0x3FFF) + 1, int64_t((bits >> 14) & 0x3FFF) + 1};
  }
  if (b.starts_with(12, "VP8X")) {
    return {ImageFormat::webp, int64_t(b.le24(24)) + 1, int64_t(b.le24(27)) + 1};
  }
  throw ModelError("invalid WebP: unknown first chunk");
}

ImageHeader probe_bmp(const Bytes& b) {
  const uint32_t dib_size = b.le32(14);
  if (dib_size == 12) return {ImageFormat::bmp, b.le16(18), b.le16(20)};  // OS/2 core header
  if (dib_size < 40) throw ModelError("invalid BMP: unknown header size");
  // Signed: a negative height means rows are stored top-down.
  const auto width = int32_t(b.le32(18));
  const auto height = int32_t(b.le32(22));
  if (width < 0) throw ModelError("invalid BMP: negative width");
  return {ImageFormat::bmp, width, std::abs(int64_t(height))};
}

}  // namespace

ImageHeader probe_image(std::span<const uint8_t> data) {
  if (data.empty()) throw ModelError("image data is empty");
  if (Bytes b(data, "PNG"); b.starts_with(0, "\x89PNG\r\n\x1a\n")) return probe_png(b);
  if (Bytes b(data, "JPEG"); b.starts_with(0, "\xFF\xD8")) return probe_jpeg(b);
  if (Bytes b(data, "WebP"); b.starts_with(0, "RIFF") && b.starts_with(8, "WEBP")) {
    return probe_webp(b);
  }
  if (Bytes b(data, "BMP"); b.starts_with(0, "BM")) return probe_bmp(b);
  throw ModelError("unsupported or undecodable image data (expected PNG, JPEG, WebP or BMP)");
}

const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::png: return "PNG";
    case ImageFormat::jpeg: return "JPEG";
    case ImageFormat::webp: return "WebP";
    case ImageFormat::bmp: return "BMP";
  }
  return "image";
}

}  // namespace pio
