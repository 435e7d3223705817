// EXIF orientation as Hugging Face's load_image applies it: Pillow's ImageOps.exif_transpose,
// before anything else, so the model sees the photo upright.
#pragma once

#include <cstdint>
#include <span>

#include "model/errors.h"
#include "model/image/rgb_image.h"

namespace pio {

// Thrown for EXIF data whose first four bytes are none of Pillow's TIFF prefixes (its
// SyntaxError, which one path of Pillow's JPEG reader drops).
class NotTiffError : public ModelError {
 public:
  using ModelError::ModelError;
};

// The orientation (tag 0x0112 of IFD0, 2..8) of an EXIF TIFF structure, or 1 when it has none or
// a value exif_transpose does not act on. Follows Pillow 9.4's Exif.load/getexif: any numeric
// tag type counts (its first value), a later duplicate tag wins, a directory that runs past the
// end keeps the entries read so far. Empty data has none. Throws NotTiffError for data that does
// not start like TIFF, and ModelError for a BigTIFF or cut-short header: Pillow raises for both.
int exif_orientation(std::span<const uint8_t> tiff);

// The TIFF structure of an EXIF block that may start with the "Exif\0\0" marker, as Pillow's
// Exif.load takes it (JPEG APP1 segments and WebP EXIF chunks).
std::span<const uint8_t> strip_exif_marker(std::span<const uint8_t> exif);

// `img` transposed as exif_transpose does for `orientation` (Pillow's Image.transpose:
// 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE,
// 8 ROTATE_90); 5..8 swap width and height. Other values return `img` unchanged.
RgbImage apply_exif_orientation(RgbImage img, int orientation);

}  // namespace pio
