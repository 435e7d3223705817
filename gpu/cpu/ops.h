// Row-wise and element-wise CPU kernels. Each works on a range so the backend can split it
// over the thread pool.
#pragma once

#include <cstdint>
#include <span>

#include "gpu/backend.h"

namespace pio::cpu {

void rms_norm_rows(const float* x, int64_t row_begin, int64_t row_end, int64_t dim, const WeightView& weight,
                   float eps, float* y);
void layer_norm_rows(const float* x, int64_t row_begin, int64_t row_end, int64_t dim, const WeightView& weight,
                     const WeightView& bias, float eps, float* y);
void rotary_rows(float* x, int64_t row_begin, int64_t row_end, int64_t row_stride, int heads, int head_dim,
                 const float* cos, const float* sin);
void silu_mul_range(float* gate, const float* up, int64_t begin, int64_t end);
void gelu_tanh_range(float* x, int64_t begin, int64_t end);
void gelu_erf_range(float* x, int64_t begin, int64_t end);
void add_range(float* x, const float* y, int64_t begin, int64_t end);
void embed_rows(const WeightView& table, std::span<const int32_t> ids, int64_t begin, int64_t end, float* out);

}  // namespace pio::cpu
