// Which rows of a dense matmul the CUDA backend computes with its fixed-order kernels (the GEMV,
// and beyond its rows the tiled GEMM with the GEMV's bits) and which it may give to cuBLAS, whose
// summation order, and so whose bits, depend on m. Decode rows must keep the bits they have
// alone whatever shares their step (batch invariance, gpu/backend.h), so they never go to
// cuBLAS; prefill rows may. Plain C++, so the CPU tests check the rule.
#pragma once

#include <algorithm>
#include <cstdint>

namespace pio::cuda {

// Rows of the GEMV's one pass over the weights: up to this many, it is the fastest kernel.
inline constexpr int64_t kGemvRows = 16;

// Of m rows whose first fixed_rows need their lone bits, how many (a prefix) the fixed-order
// kernels take; cuBLAS takes the rest. All of them when every row must be fixed
// (`fixed_everywhere`: --deterministic, or a dtype cuBLAS refuses), when the GEMV takes m rows in
// one pass anyway, or when what is left beside the fixed rows is that small: one fixed-order call
// reads the weights once, where two calls would read them twice.
inline int64_t fixed_order_rows(int64_t m, int64_t fixed_rows, bool fixed_everywhere) {
  const int64_t fixed = std::clamp<int64_t>(fixed_rows, 0, m);
  if (fixed_everywhere || m <= kGemvRows || m - fixed <= kGemvRows) return m;
  return fixed;
}

}  // namespace pio::cuda
