// Per-format header probes and decoders behind probe_image and decode_rgb (one file per format).
// A probe builds its header with stored_header; a decoder returns the image as stored (before
// the orientation), after checking that the size its library reads is the probed one before it
// allocates anything for the pixels.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "model/errors.h"
#include "model/image/byte_reader.h"
#include "model/image/image_probe.h"
#include "model/image/rgb_image.h"

namespace pio {

ImageHeader probe_png(const ByteReader& b);
ImageHeader probe_jpeg(const ByteReader& b);
ImageHeader probe_webp(const ByteReader& b);
ImageHeader probe_gif(const ByteReader& b);
ImageHeader probe_bmp(const ByteReader& b);

RgbImage decode_png(std::span<const uint8_t> data, const ImageHeader& header);
RgbImage decode_jpeg(std::span<const uint8_t> data, const ImageHeader& header);
RgbImage decode_webp(std::span<const uint8_t> data, const ImageHeader& header);
RgbImage decode_gif(std::span<const uint8_t> data, const ImageHeader& header);
RgbImage decode_bmp(std::span<const uint8_t> data, const ImageHeader& header);

// A header from the stored size and the orientation: width and height as displayed.
inline ImageHeader stored_header(ImageFormat f, int64_t width, int64_t height, int orientation = 1) {
  return orientation >= 5 ? ImageHeader{f, height, width, orientation}
                          : ImageHeader{f, width, height, orientation};
}

// An RGB image of the header's stored size, once the size a library read matches it.
inline RgbImage allocate_stored(const ImageHeader& h, int64_t width, int64_t height) {
  if (width != h.stored_width() || height != h.stored_height()) {
    throw ModelError(std::string("cannot decode ") + format_name(h.format) +
                     " image: decoded size differs from the header's");
  }
  return RgbImage{width, height, std::vector<uint8_t>(size_t(width * height * 3))};
}

// The error for data that ends before the image is complete (Pillow: "image file is truncated").
inline ModelError truncated_error(ImageFormat f) {
  return ModelError(std::string(format_name(f)) + " image file is truncated");
}

}  // namespace pio
