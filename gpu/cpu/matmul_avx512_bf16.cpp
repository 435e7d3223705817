// bf16 weights on CPUs with AVX-512 BF16: x is rounded to bf16 once per call (as a bf16 model
// computes anyway) and vdpbf16ps multiplies 32 pairs per instruction with float32 accumulation.
// Compiled with AVX-512 flags; only called after the run-time check in cpu_features.
#include <immintrin.h>

#include "gpu/cpu/matmul.h"
#include "gpu/cpu/weight_access.h"

namespace pio::cpu {
namespace {

// Register tiles: up to 4 rows x 4 columns (16 accumulators + 4 x rows + one weight vector of
// the 32 zmm). Fewer rows take more columns, so at least 8 independent accumulator chains hide
// vdpbf16ps's latency even for a single decode row.
constexpr int kRows = 4;

// acc[r][c] += x[r, kk..kk+32) · w[n0 + c, kk..kk+32) for the lanes in mask.
template <int MR, int NR>
[[gnu::always_inline]] inline void accumulate(__m512 (&acc)[MR][NR], const uint16_t* x, const uint16_t* w, int64_t k,
                                              int64_t kk, __mmask32 mask) {
  __m512bh xv[MR];
  for (int r = 0; r < MR; ++r) xv[r] = (__m512bh)_mm512_maskz_loadu_epi16(mask, x + r * k + kk);
  for (int c = 0; c < NR; ++c) {
    // Weights stream from memory once per call: ask for them 512 bytes ahead (a prefetch past
    // the row's end never faults).
    _mm_prefetch(reinterpret_cast<const char*>(w + c * k + kk + 256), _MM_HINT_T0);
    const __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(mask, w + c * k + kk);
    for (int r = 0; r < MR; ++r) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], xv[r], wv);
  }
}

template <int MR, int NR>
void tile(const MatmulArgs& a, const uint16_t* w, int64_t m0, int64_t n0) {
  const int64_t k = a.k;
  const uint16_t* x = a.x_bf16 + m0 * k;
  const uint16_t* wn = w + n0 * k;
  __m512 acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_setzero_ps();
  // Full 32-element steps, then the masked tail: the same lanes and order either way.
  int64_t kk = 0;
  for (; kk + 32 <= k; kk += 32) accumulate(acc, x, wn, k, kk, ~__mmask32{0});
  if (kk < k) accumulate(acc, x, wn, k, kk, static_cast<__mmask32>((1u << (k - kk)) - 1u));
  const int64_t n = a.w.rows;
  for (int r = 0; r < MR; ++r) {
    for (int c = 0; c < NR; ++c) {
      float s = _mm512_reduce_add_ps(acc[r][c]);
      if (a.bias.data) s += weight_at(a.bias, n0 + c);
      a.y[(m0 + r) * n + n0 + c] = s;
    }
  }
}

template <int MR, int NR>
void row_strip(const MatmulArgs& a, const uint16_t* w, int64_t m0, int64_t n0, int64_t n1) {
  int64_t n = n0;
  for (; n + NR <= n1; n += NR) tile<MR, NR>(a, w, m0, n);
  for (; n < n1; ++n) tile<MR, 1>(a, w, m0, n);
}

}  // namespace

void matmul_block_avx512_bf16(const MatmulArgs& a, int64_t n0, int64_t n1) {
  const auto* w = static_cast<const uint16_t*>(a.w.data);
  int64_t m = 0;
  for (; m + kRows <= a.m; m += kRows) row_strip<kRows, 4>(a, w, m, n0, n1);
  switch (a.m - m) {
    case 3: row_strip<3, 4>(a, w, m, n0, n1); break;
    case 2: row_strip<2, 8>(a, w, m, n0, n1); break;
    case 1: row_strip<1, 8>(a, w, m, n0, n1); break;
    default: break;
  }
}

// The tail goes through the same conversion (masked) as the body: it flushes subnormals to zero
// where math::f32_to_bf16 keeps them, and which elements fall in the tail depends on how many
// rows share the call.
void round_to_bf16_avx512(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512(out + i, (__m512i)v);
  }
  for (; i < n; i += 16) {
    const __mmask16 mask = n - i >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, x + i));
    _mm256_mask_storeu_epi16(out + i, mask, (__m256i)v);
  }
}

}  // namespace pio::cpu
