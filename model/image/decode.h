// Decodes PNG, JPEG, WebP, GIF and BMP to RGB exactly as Hugging Face's load_image does:
// Pillow's Image.open, ImageOps.exif_transpose, then convert("RGB").
#pragma once

#include <cstdint>
#include <span>

#include "model/image/image_probe.h"
#include "model/image/rgb_image.h"

namespace pio {

// `header` is probe_image(encoded), whose size the caller has already checked against its
// limits: the decoders refuse data whose library-read size differs from it, before allocating.
// Animated GIF and WebP give their first frame; CMYK and YCCK JPEGs convert as Pillow does.
// Throws ModelError when the data is truncated ("... image file is truncated") or cannot be
// decoded.
RgbImage decode_rgb(std::span<const uint8_t> encoded, const ImageHeader& header);

}  // namespace pio
