// preprocessor_config.json, loaded as `--model DIR` loads it, then used as `pio preprocess` uses
// it (its pixel budgets as the limits) on a small fixed image.
#include "fuzz/harness.h"
#include "fuzz/scratch_file.h"
#include "model/image/preprocess.h"

namespace {

pio::RgbImage gradient(int64_t width, int64_t height) {
  pio::RgbImage img{width, height, std::vector<uint8_t>(static_cast<size_t>(width * height * 3))};
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 7);
  return img;
}

}  // namespace

void pio::fuzz::fuzz_one(std::span<const uint8_t> data) {
  static const RgbImage image = gradient(40, 30);
  const PreprocessorConfig cfg = load_preprocessor_config(write_scratch_file("preprocessor_config.json", data));
  const PixelValues pv = preprocess_rgb(image, cfg, ImageLimits::from_config(cfg));
  require(pv.grid_h % cfg.merge_size == 0 && pv.grid_w % cfg.merge_size == 0, "grid is whole merge blocks");
  require(static_cast<int64_t>(pv.data.size()) == pv.rows() * pv.row_width(),
          "pixel_values hold grid rows x row width values");
}
