// Decodes PNG, JPEG, WebP and BMP to RGB exactly as Pillow's Image.open(...).convert("RGB"),
// which is what the Hugging Face processor feeds on.
#pragma once

#include <cstdint>
#include <span>

#include "model/image/rgb_image.h"

namespace pio {

// Throws ModelError when the data cannot be decoded. Callers check the declared size first
// (probe_image); this function does not.
RgbImage decode_rgb(std::span<const uint8_t> encoded);

}  // namespace pio
