// Weight layouts made once at load for the matmul kernels: bf16 column panels for the tiled
// GEMM, and the 8-bit and 4-bit quantised formats (quantised from the checkpoint's weights).
#pragma once

#include <cstdint>

#include "gpu/backend.h"

namespace pio::cpu {

// Bytes a [rows, cols] matrix takes in `format` (a multiple of 64). Plain is not a packed format.
int64_t packed_weight_bytes(WeightFormat format, int64_t rows, int64_t cols);

// Writes w (Plain, f32/bf16/f16) in `format` to dst: packed_weight_bytes(format, w.rows, w.cols)
// bytes, 64-byte aligned. The same weights always give the same bytes (the packed files are
// checksummed and cached). Returns the view of the packed matrix at dst.
WeightView pack_weight(const WeightView& w, WeightFormat format, void* dst);

}  // namespace pio::cpu
