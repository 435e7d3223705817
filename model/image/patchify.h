// Rescale, normalise and cut a resized image into the processor's patch rows.
#pragma once

#include "model/image/pixel_values.h"
#include "model/image/preprocessor_config.h"
#include "model/image/rgb_image.h"

namespace pio {

// `img` sides must be multiples of patch_size * merge_size (smart_resize guarantees it). A still
// image fills all temporal_patch_size frames with the same picture, so grid_t = 1. Row order is
// (t, block_row, block_col, row_in_block, col_in_block), values (C, T, py, px), as the HF
// processor's view + permute(0, 1, 4, 7, 5, 8, 3, 2, 6, 9) produces them.
PixelValues patchify(const RgbImage& img, const PreprocessorConfig& cfg);

}  // namespace pio
