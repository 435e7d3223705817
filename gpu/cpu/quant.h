// 8-bit and 4-bit quantised weights and their integer dot-product matmul kernels.
// (Being written on the quant branch; the declarations are the seam the loader uses.)
#pragma once

#include <cstdint>

#include "gpu/backend.h"

namespace pio::cpu {

// Bytes of a [rows, cols] matrix quantised as format (Q8 or Q4), a multiple of 64.
int64_t quantized_bytes(WeightFormat format, int64_t rows, int64_t cols);
// Quantises w (Plain f32/bf16/f16) into dst (quantized_bytes bytes, 64-byte aligned).
void quantize_weight(const WeightView& w, WeightFormat format, void* dst);

}  // namespace pio::cpu
