// Per-image position inputs of the vision encoder, computed on the host: the learned position
// embedding resampled to the image's grid, and the 2D rotary angles. Both are emitted in the
// processor's merge-block row order (t, block_row, block_col, row_in_block, col_in_block).
#pragma once

#include <cstdint>
#include <span>

namespace pio {

struct PatchGrid {
  int64_t t = 1, h = 0, w = 0;  // in patches
};

// `table` is the [side * side, dim] learned grid. Writes grid.t * h * w rows of dim values: the
// table bilinearly interpolated (align_corners=True, as HF's fast_pos_embed_interpolate) to h x w,
// the same for every frame.
void interpolate_position_embedding(const float* table, int64_t side, int64_t dim, const PatchGrid& grid,
                                    int merge, float* out);

// cos/sin rows of head_dim / 2 values: the first half of the slots rotate by the patch row, the
// second by the patch column, with inv_freq the head_dim / 4 frequencies of a rotary of size
// head_dim / 2 (HF's VisionRotaryEmbedding).
void vision_rotary_tables(const PatchGrid& grid, int merge, std::span<const float> inv_freq, float* cos,
                          float* sin);

}  // namespace pio
