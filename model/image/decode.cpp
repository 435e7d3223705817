#include "model/image/decode.h"

#include "model/image/exif_orientation.h"
#include "model/image/image_formats.h"

namespace pio {

RgbImage decode_rgb(std::span<const uint8_t> encoded, const ImageHeader& header) {
  RgbImage stored;
  switch (header.format) {
    case ImageFormat::png: stored = decode_png(encoded, header); break;
    case ImageFormat::jpeg: stored = decode_jpeg(encoded, header); break;
    case ImageFormat::webp: stored = decode_webp(encoded, header); break;
    case ImageFormat::gif: stored = decode_gif(encoded, header); break;
    case ImageFormat::bmp: stored = decode_bmp(encoded, header); break;
  }
  return apply_exif_orientation(std::move(stored), header.orientation);
}

}  // namespace pio
