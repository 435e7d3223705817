// The tiled GEMM over panel-packed bf16 weights with AVX2 + FMA (layout in packed_bf16.h), for
// CPUs without AVX-512 BF16. x stays float32. Half a panel pair (8 outputs x 2 inputs) is one
// 256-bit load; shifting and masking give its even and odd inputs as float32, and each row
// adds x[2j] * even + x[2j + 1] * odd by two FMAs.
#include <immintrin.h>

#include "gpu/cpu/packed_bf16.h"
#include "gpu/cpu/weight_access.h"

namespace pio::cpu {
namespace {

constexpr int kMaxRows = 6;

// Panels per tile: two accumulators of 8 outputs per panel and row, 8 to 12 of the 16 ymm
// (each takes two dependent FMAs per input pair, so 12 chains keep both FMA pipes busy).
constexpr int panels_for(int mr) { return mr == 1 ? 8 : mr == 2 ? 2 : 1; }

template <int MR, int NP>
void tile(const MatmulArgs& a, int64_t m0, int64_t p0) {
  const int64_t k = a.k, pairs = packed_bf16_pairs(k), full_pairs = k / 2;
  const PanelAddress at = packed_bf16_panel(p0, packed_bf16_panels(a.w.rows), pairs);
  const float* x = a.x + m0 * k;
  const auto* w = static_cast<const uint16_t*>(a.w.data) + at.offset;
  const __m256i high = _mm256_set1_epi32(static_cast<int32_t>(0xffff0000u));
  // Loops over the tile unrolled fully so the accumulators stay in registers.
  __m256 acc[MR][NP][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < NP; ++c) acc[r][c][0] = acc[r][c][1] = _mm256_setzero_ps();
  for (int64_t j = 0; j < pairs; ++j) {
#pragma GCC unroll 8
    for (int c = 0; c < NP; ++c) {
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + j * at.pair_stride + c * 32 + h * 16));
        const __m256 even = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
        const __m256 odd = _mm256_castsi256_ps(_mm256_and_si256(v, high));
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
          acc[r][c][h] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + r * k + 2 * j), even, acc[r][c][h]);
          // An odd k's last pair has no odd input (its packed weight is zero, but x has no value there).
          if (j < full_pairs) acc[r][c][h] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + r * k + 2 * j + 1), odd, acc[r][c][h]);
        }
      }
    }
  }
  const int64_t n = a.w.rows;
  for (int c = 0; c < NP; ++c) {
    const int64_t col = (p0 + c) * kPanelWidth;
    for (int r = 0; r < MR; ++r) {
      alignas(32) float out[kPanelWidth];
      _mm256_store_ps(out, acc[r][c][0]);
      _mm256_store_ps(out + 8, acc[r][c][1]);
      for (int64_t i = 0; i < kPanelWidth && col + i < n; ++i)
        a.y[(m0 + r) * n + col + i] = a.bias.data ? out[i] + weight_at(a.bias, col + i) : out[i];
    }
  }
}

// Tiles never straddle two panel groups: NP divides kGroupPanels and p0 starts a group.
template <int MR>
void row_strip(const MatmulArgs& a, int64_t m0, int64_t p0, int64_t p1) {
  constexpr int NP = panels_for(MR);
  int64_t p = p0;
  for (; p + NP <= p1; p += NP) tile<MR, NP>(a, m0, p);
  for (; p < p1; ++p) tile<MR, 1>(a, m0, p);
}

}  // namespace

void matmul_panels_avx2(const MatmulArgs& a, int64_t p0, int64_t p1) {
  int64_t m = 0;
  for (; m + kMaxRows <= a.m; m += kMaxRows) row_strip<kMaxRows>(a, m, p0, p1);
  switch (a.m - m) {
    case 5: row_strip<5>(a, m, p0, p1); break;
    case 4: row_strip<4>(a, m, p0, p1); break;
    case 3: row_strip<3>(a, m, p0, p1); break;
    case 2: row_strip<2>(a, m, p0, p1); break;
    case 1: row_strip<1>(a, m, p0, p1); break;
    default: break;
  }
}

}  // namespace pio::cpu
