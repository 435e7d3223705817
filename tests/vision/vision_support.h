// Shared by the vision tests: tiny random checkpoints in a private temp directory and random
// patch rows.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "gpu/dtype.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/image/pixel_values.h"
#include "tests/support/temp_dir.h"

namespace vtest {

// How a tiny test checkpoint is filled.
enum class Weights {
  preset,     // `pio make-checkpoint --preset tiny`: std 0.02, so attention is nearly uniform
  text_only,  // the same without model.visual.*
  sharp,      // the tiny vision tower only, scaled so attention is peaked and the position
              // embedding and rotary visibly change the output
};

struct TinyModel {
  test::TempDir dir;
  pio::ModelConfig config;
  pio::Checkpoint ckpt;
  TinyModel(pio::DType dtype, Weights weights);
};
// Written once per dtype and kind for the whole test run.
const TinyModel& tiny(pio::DType dtype, Weights weights = Weights::preset);

// An image's patch rows with uniform values in [-1, 1], reproducible from the seed.
pio::PixelValues random_image(const pio::VisionConfig& cfg, int64_t t, int64_t h, int64_t w, uint32_t seed);

}  // namespace vtest
