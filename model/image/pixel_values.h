// What the vision encoder receives for one image: flattened patches plus their grid.
#pragma once

#include <cstdint>
#include <vector>

namespace pio {

struct PixelValues {
  int64_t grid_t = 0;  // temporal patches (1 for a still image)
  int64_t grid_h = 0;  // patch rows    (resized height / patch_size)
  int64_t grid_w = 0;  // patch columns (resized width / patch_size)
  int64_t channels = 3;
  int64_t temporal_patch_size = 2;
  int64_t patch_size = 16;
  // Row-major [rows(), row_width()]: rows in merge-block order, each row C -> T -> py -> px.
  std::vector<float> data;

  int64_t rows() const { return grid_t * grid_h * grid_w; }
  int64_t row_width() const { return channels * temporal_patch_size * patch_size * patch_size; }
  // Tokens the language model sees after the merge_size x merge_size merger.
  int64_t merged_tokens(int64_t merge_size) const { return rows() / (merge_size * merge_size); }
};

}  // namespace pio
