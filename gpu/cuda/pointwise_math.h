// Per-thread arithmetic of the element-wise kernels (gpu/cuda/pointwise_kernels.cu): thread
// flat_index(block, thread, kPointwiseThreads) handles element (or rotary pair) e, when e < n.
#pragma once

#include <cstdint>

#include "gpu/cuda/grid_math.h"

namespace pio::cuda {

// gate[e] = silu(gate[e]) * up[e]
PIO_HD void silu_mul_at(float* gate, const float* up, int64_t e) { gate[e] = math::silu(gate[e]) * up[e]; }
PIO_HD void gelu_tanh_at(float* x, int64_t e) { x[e] = math::gelu_tanh(x[e]); }
PIO_HD void gelu_erf_at(float* x, int64_t e) { x[e] = math::gelu_erf(x[e]); }
// x[e] += y[e]
PIO_HD void add_at(float* x, const float* y, int64_t e) { x[e] += y[e]; }

// Rotary pair e of rows * heads * (head_dim / 2) pairs: row r, head h, pair i (elements i and
// i + head_dim/2 of the head, rotate_half) rotated by cos/sin[r * head_dim/2 + i]. The tables hold
// one row per x row, so M-RoPE (text) and the vision 2D rotary both arrive as plain tables.
PIO_HD void rotary_at(float* x, int64_t row_stride, int heads, int head_dim, const float* cos, const float* sin,
                      int64_t e) {
  const int half = head_dim / 2;
  const int64_t i = e % half;
  const int64_t h = (e / half) % heads;
  const int64_t r = e / (static_cast<int64_t>(half) * heads);
  float* v = x + r * row_stride + h * head_dim;
  math::rotate_pair(v[i], v[i + half], cos[r * half + i], sin[r * half + i]);
}

// Element e of the rows * cols embedding output: out[e] = table[ids[e / cols], e % cols] as float.
PIO_HD void embed_at(const void* table, DType dtype, int64_t cols, const int32_t* ids, float* out, int64_t e) {
  const int64_t r = e / cols, c = e % cols;
  out[e] = load_weight(table, dtype, static_cast<int64_t>(ids[r]) * cols + c);
}

}  // namespace pio::cuda
