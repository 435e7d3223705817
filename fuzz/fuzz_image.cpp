// Image decoding: the bytes of an `--image` file through the whole Qwen3-VL image processor
// (header probe, decode, smart_resize, resample, patchify), with small pixel budgets so that
// each input runs quickly.
#include "fuzz/harness.h"
#include "model/image/preprocess.h"

void pio::fuzz::fuzz_one(std::span<const uint8_t> data) {
  const PreprocessorConfig cfg;
  const ImageLimits limits{.min_pixels = 32 * 32, .max_pixels = 64 * 64, .max_decoded_pixels = 1 << 20};
  const PixelValues pv = preprocess_image(data, cfg, limits);
  require(pv.grid_t == 1 && pv.grid_h > 0 && pv.grid_w > 0, "grid_thw of a still image");
  require(static_cast<int64_t>(pv.data.size()) == pv.rows() * pv.row_width(),
          "pixel_values hold grid rows x row width values");
}
