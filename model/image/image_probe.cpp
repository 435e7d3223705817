#include "model/image/image_probe.h"

#include "model/errors.h"
#include "model/image/image_formats.h"

namespace pio {

ImageHeader probe_image(std::span<const uint8_t> data) {
  if (data.empty()) throw ModelError("image data is empty");
  if (ByteReader b(data, "PNG"); b.starts_with(0, "\x89PNG\r\n\x1a\n")) return probe_png(b);
  if (ByteReader b(data, "JPEG"); b.starts_with(0, "\xFF\xD8")) return probe_jpeg(b);
  if (ByteReader b(data, "WebP"); b.starts_with(0, "RIFF") && b.starts_with(8, "WEBP")) {
    return probe_webp(b);
  }
  if (ByteReader b(data, "GIF"); b.starts_with(0, "GIF87a") || b.starts_with(0, "GIF89a")) {
    return probe_gif(b);
  }
  if (ByteReader b(data, "BMP"); b.starts_with(0, "BM")) return probe_bmp(b);
  throw ModelError("unsupported or undecodable image data (expected PNG, JPEG, WebP, GIF or BMP)");
}

const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::png: return "PNG";
    case ImageFormat::jpeg: return "JPEG";
    case ImageFormat::webp: return "WebP";
    case ImageFormat::gif: return "GIF";
    case ImageFormat::bmp: return "BMP";
  }
  return "image";
}

}  // namespace pio
