// A plain reference of the Qwen3-VL vision encoder for the tests: naive loops in double
// precision straight from the description of the HF forward pass, one image at a time, with
// its own weight decoding and no shared kernels.
#pragma once

#include <vector>

#include "model/checkpoint.h"
#include "model/config.h"
#include "model/image/pixel_values.h"

namespace ref {

struct VisionResult {
  std::vector<double> image_embeds;             // [tokens, out_hidden]
  std::vector<std::vector<double>> deepstack;   // per tap, [tokens, out_hidden]
};

VisionResult encode_image(const pio::Checkpoint& ckpt, const pio::VisionConfig& cfg, const pio::PixelValues& image);

}  // namespace ref
