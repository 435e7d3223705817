#include "model/image/patchify.h"

#include <array>

#include "model/errors.h"

namespace pio {
namespace {

// The processor fuses rescale and normalise into float32 (p - mean/r) / (std/r), with mean/r and
// std/r rounded to float first. A table per channel gives exactly those values for every level.
std::array<std::array<float, 256>, 3> normalisation_tables(const PreprocessorConfig& cfg) {
  std::array<std::array<float, 256>, 3> t{};
  const float inv_rescale = float(1.0 / cfg.rescale_factor);
  for (int c = 0; c < 3; ++c) {
    const float mean = float(cfg.image_mean[size_t(c)]) * inv_rescale;
    const float std = float(cfg.image_std[size_t(c)]) * inv_rescale;
    for (int p = 0; p < 256; ++p) t[size_t(c)][size_t(p)] = (float(p) - mean) / std;
  }
  return t;
}

}  // namespace

PixelValues patchify(const RgbImage& img, const PreprocessorConfig& cfg) {
  const int64_t p = cfg.patch_size, m = cfg.merge_size;
  if (img.width % (p * m) != 0 || img.height % (p * m) != 0) {
    throw ModelError("patchify: image sides must be multiples of patch_size * merge_size");
  }
  PixelValues pv;
  pv.grid_t = 1;
  pv.grid_h = img.height / p;
  pv.grid_w = img.width / p;
  pv.temporal_patch_size = cfg.temporal_patch_size;
  pv.patch_size = p;
  pv.data.resize(size_t(pv.rows() * pv.row_width()));

  const auto table = normalisation_tables(cfg);
  float* out = pv.data.data();
  for (int64_t block_row = 0; block_row < pv.grid_h / m; ++block_row) {
    for (int64_t block_col = 0; block_col < pv.grid_w / m; ++block_col) {
      for (int64_t r = 0; r < m; ++r) {
        for (int64_t c = 0; c < m; ++c) {
          const int64_t y0 = (block_row * m + r) * p, x0 = (block_col * m + c) * p;
          for (int64_t ch = 0; ch < 3; ++ch) {
            const auto& norm = table[size_t(ch)];
            for (int64_t t = 0; t < cfg.temporal_patch_size; ++t) {  // identical frames
              for (int64_t py = 0; py < p; ++py) {
                for (int64_t px = 0; px < p; ++px) *out++ = norm[img.at(y0 + py, x0 + px)[ch]];
              }
            }
          }
        }
      }
    }
  }
  return pv;
}

}  // namespace pio
