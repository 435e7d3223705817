// Baseline matmul: AVX2 + FMA, weights converted to float32 eight at a time.
// Each tile keeps MR x NR accumulators of 8 lanes in registers while walking k. Every output is
// the same operations whatever tile holds it (see matmul.h): one 8-lane FMA accumulator over the
// whole k, hsum, then the k % 8 tail by explicit fused multiply-adds, so no tile shape leaves the
// tail's rounding to the compiler's contraction choices.
#include <immintrin.h>

#include <cmath>

#include "gpu/cpu/matmul.h"
#include "gpu/cpu/weight_access.h"

namespace pio::cpu {
namespace {

constexpr int kRows = 3;  // MR: 3 x 4 accumulators + 3 x loads + 1 weight = 16 ymm registers
constexpr int kCols = 4;  // NR

template <class W, int MR, int NR>
void tile(const MatmulArgs& a, const typename W::T* w, int64_t m0, int64_t n0) {
  const int64_t k = a.k;
  const float* x = a.x + m0 * k;
  __m256 acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm256_setzero_ps();
  int64_t kk = 0;
  for (; kk + 8 <= k; kk += 8) {
    __m256 xv[MR];
    for (int r = 0; r < MR; ++r) xv[r] = _mm256_loadu_ps(x + r * k + kk);
    for (int c = 0; c < NR; ++c) {
      const __m256 wv = W::load8(w + (n0 + c) * k + kk);
      for (int r = 0; r < MR; ++r) acc[r][c] = _mm256_fmadd_ps(xv[r], wv, acc[r][c]);
    }
  }
  const int64_t n = a.w.rows;
  for (int r = 0; r < MR; ++r) {
    for (int c = 0; c < NR; ++c) {
      float s = hsum(acc[r][c]);
      for (int64_t t = kk; t < k; ++t) s = std::fma(x[r * k + t], W::load1(w + (n0 + c) * k + t), s);
      if (a.bias.data) s += weight_at(a.bias, n0 + c);
      a.y[(m0 + r) * n + n0 + c] = s;
    }
  }
}

template <class W, int MR>
void row_strip(const MatmulArgs& a, const typename W::T* w, int64_t m0, int64_t n0, int64_t n1) {
  int64_t n = n0;
  for (; n + kCols <= n1; n += kCols) tile<W, MR, kCols>(a, w, m0, n);
  for (; n < n1; ++n) tile<W, MR, 1>(a, w, m0, n);
}

template <class W>
void block(const MatmulArgs& a, int64_t n0, int64_t n1) {
  const auto* w = static_cast<const typename W::T*>(a.w.data);
  int64_t m = 0;
  for (; m + kRows <= a.m; m += kRows) row_strip<W, kRows>(a, w, m, n0, n1);
  switch (a.m - m) {
    case 2: row_strip<W, 2>(a, w, m, n0, n1); break;
    case 1: row_strip<W, 1>(a, w, m, n0, n1); break;
    default: break;
  }
}

}  // namespace

void matmul_block_avx2(const MatmulArgs& a, int64_t n0, int64_t n1) {
  switch (a.w.dtype) {
    case DType::F32: block<F32Weights>(a, n0, n1); break;
    case DType::BF16: block<BF16Weights>(a, n0, n1); break;
    case DType::F16: block<F16Weights>(a, n0, n1); break;
    default: break;
  }
}

}  // namespace pio::cpu
