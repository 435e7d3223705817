// Reads an encoded image's format and declared size from its header alone, so that oversized
// or malformed inputs are refused before any decoder allocates memory for them.
#pragma once

#include <cstdint>
#include <span>

namespace pio {

enum class ImageFormat { png, jpeg, webp, bmp };

struct ImageHeader {
  ImageFormat format;
  int64_t width;
  int64_t height;
};

// Throws ModelError for data that is not a PNG, JPEG, WebP or BMP, or whose header is cut short.
ImageHeader probe_image(std::span<const uint8_t> data);

const char* format_name(ImageFormat f);

}  // namespace pio
