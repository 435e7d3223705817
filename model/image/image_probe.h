// Reads an encoded image's format, declared size and EXIF orientation without decoding it, so
// that oversized or malformed inputs are refused before any decoder allocates memory for them.
#pragma once

#include <cstdint>
#include <span>

namespace pio {

enum class ImageFormat { png, jpeg, webp, gif, bmp };

struct ImageHeader {
  ImageFormat format;
  int64_t width;        // as load_image returns it: after the EXIF orientation
  int64_t height;
  int orientation = 1;  // EXIF orientation (2..8) that decode_rgb applies; 1: as stored

  // The size as stored in the file, before the orientation.
  bool swaps_axes() const { return orientation >= 5; }
  int64_t stored_width() const { return swaps_axes() ? height : width; }
  int64_t stored_height() const { return swaps_axes() ? width : height; }
};

// The header of PNG, JPEG, WebP (still or animated: the canvas), GIF (the first frame's canvas,
// grown to hold the frame as Pillow does) or BMP data. The orientation comes from a JPEG's first
// Exif APP1 segment, a PNG's eXIf chunk or an extended WebP's EXIF chunk, as Pillow finds them.
// Throws ModelError for other data, a header cut short, a PNG chunk cut short (truncated), or
// EXIF data Pillow refuses.
ImageHeader probe_image(std::span<const uint8_t> data);

const char* format_name(ImageFormat f);

}  // namespace pio
