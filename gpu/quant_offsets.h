// Byte offsets inside one 16-row panel of the Q8/Q4 weight layouts (gpu/cpu/quant.h describes
// them), as functions callable on the host and on a CUDA device: the CPU quantiser and kernels
// (gpu/cpu/quant_layout.h) and the CUDA kernels (gpu/cuda/gemv_math.h) read the same bytes.
#pragma once

#include <cstdint>

#include "gpu/kernel_math.h"

namespace pio::quant_offsets {

// Q8: pairs of blocks, 64 bytes of f16 scales then 2 x 512 bytes of quants.
PIO_HD int64_t q8_quant(int64_t b) { return b / 2 * 1088 + 64 + b % 2 * 512; }
PIO_HD int64_t q8_scale(int64_t b) { return b / 2 * 1088 + b % 2 * 32; }
PIO_HD int64_t q8_panel_bytes(int64_t kb) { return (kb + 1) / 2 * 1088; }
// Q4: per block 32 bytes of f16 scales, 32 of f16 minima, then 256 bytes of nibbles.
PIO_HD int64_t q4_quant(int64_t b) { return b * 320 + 64; }
PIO_HD int64_t q4_scale(int64_t b) { return b * 320; }
PIO_HD int64_t q4_panel_bytes(int64_t kb) { return kb * 320; }

}  // namespace pio::quant_offsets
