// Keeping f16 activations finite on the cuBLAS prefill path (gemm_cublas.cu): with f16 weights,
// cublasGemmEx multiplies f16 by f16, so x is rounded to f16, whose largest value is 65504; a
// decoder's activations (the MLP's down_proj input, the "massive activations" of Qwen-family
// models) can pass that and would become inf. Each row of x whose largest |value| exceeds
// kF16RowLimit is divided by a power of two 2^e before the rounding and its outputs multiplied
// by 2^e after the GEMM. A power of two changes only the exponent, so the rounding to f16, the
// exact f16 products and cuBLAS's float32 sums are the unscaled ones scaled, barring values that
// the division pushes into f16's subnormal range (below 2^-14 · 2^e: those keep fewer bits, and
// would have been negligible beside the row's largest). Rows within the limit take e = 0 and give
// the bits of the plain rounding. bf16 needs none of this: its range is float32's.
//
// Per-thread arithmetic of the row-exponent kernel (one block of `threads` threads per row):
// phase 1 max_abs_part -> partial[t]; tree_max_step for stride = threads/2 ... 1 with a barrier
// after each; then thread 0 writes f16_row_exponent(partial[0]).
#pragma once

#include <cstdint>

#include "gpu/cuda/gemv_math.h"
#include "gpu/kernel_math.h"

namespace pio::cuda_math {

// The largest |x| a row keeps unscaled: 2^14 leaves f16's top binade free, so rounding up cannot
// reach inf.
constexpr float kF16RowLimit = 16384.0f;
// The largest exponent a row takes: rows beyond 2^14 · 2^64 (or inf, NaN) are not scaled further.
constexpr int kMaxRowExponent = 64;

// Thread t's largest |x[i]| over i = t, t + threads, ... below k (0 for none; a NaN is skipped,
// and goes through unscaled to give NaN as it would anyway).
PIO_HD float max_abs_part(const float* x, int64_t k, int thread, int threads) {
  float m = 0.0f;
  for (int64_t i = thread; i < k; i += threads) m = fmaxf(m, fabsf(x[i]));
  return m;
}

// One step of the tree maximum over partial[0, 2 · stride).
PIO_HD void tree_max_step(float* partial, int thread, int stride) {
  if (thread < stride) partial[thread] = fmaxf(partial[thread], partial[thread + stride]);
}

// The smallest e >= 0 with max_abs / 2^e <= kF16RowLimit (at most kMaxRowExponent).
PIO_HD int f16_row_exponent(float max_abs) {
  int e = 0;
  for (; e < kMaxRowExponent && max_abs > kF16RowLimit; ++e) max_abs *= 0.5f;
  return e;
}

// x / 2^e rounded to dtype (round_activation); e = 0 is the plain rounding.
PIO_HD uint16_t round_scaled_activation(float v, int e, DType dtype) {
  return round_activation(e == 0 ? v : ldexpf(v, -e), dtype);
}

// A GEMM output of a scaled row back to its scale: y · 2^e, then + bias[n] (finish).
PIO_HD float finish_scaled(float y, int e, const float* bias, int64_t n) {
  return finish(e == 0 ? y : ldexpf(y, e), bias, n);
}

}  // namespace pio::cuda_math
