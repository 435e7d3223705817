// The tiled GEMM over panel-packed bf16 weights with AVX-512 BF16 (layout in packed_bf16.h).
// A tile is MR rows of x by NP panels: MR x NP accumulators of 16 outputs each. Per input pair it
// loads NP weight vectors and broadcasts MR pairs of x, so each weight load serves MR rows and
// each x load NP panels. Compiled with AVX-512 flags; only called after the run-time check.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "gpu/cpu/packed_bf16.h"
#include "gpu/cpu/row_strips.h"
#include "gpu/cpu/weight_access.h"

namespace pio::cpu {
namespace {

constexpr int kMaxRows = 6;
// Batched decode (7 to 12 rows): strips of 3 rows by a whole group (24 accumulators), so each
// strip reads the group's pairs as one sequential stream, the first from memory and the rest
// from cache. 6-row strips over half groups read each stream in two strided passes and measured
// 1.3x slower on lm_head at 8 rows.
constexpr int kDecodeStrip = 3;
constexpr int64_t kMaxDecodeRows = 12;

// Panels per tile for MR rows: a divisor of kGroupPanels, at least 8 accumulators so
// vdpbf16ps's latency is hidden even for one decode row; up to 3 rows take the whole group (24
// accumulators, the weights partly reloaded from L1), more rows half of it.
constexpr int panels_for(int mr) { return mr <= kDecodeStrip ? 8 : 4; }

inline __m512bh broadcast_pair(const uint16_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return (__m512bh)_mm512_set1_epi32(v);
}

template <int MR, int NP>
void tile(const MatmulArgs& a, int64_t m0, int64_t p0) {
  const int64_t pairs = packed_bf16_pairs(a.k), x_stride = 2 * pairs;
  const PanelAddress at = packed_bf16_panel(p0, packed_bf16_panels(a.w.rows), pairs);
  const uint16_t* x = a.x_bf16 + m0 * x_stride;
  const auto* w = static_cast<const uint16_t*>(a.w.data) + at.offset;
  // The accumulators must live in registers: the loops over the tile are unrolled fully
  // (GCC would otherwise keep acc in memory and reload it for every vdpbf16ps).
  __m512 acc[MR][NP];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < NP; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t j = 0; j < pairs; ++j) {
    __m512bh wv[NP];
#pragma GCC unroll 8
    for (int c = 0; c < NP; ++c) wv[c] = (__m512bh)_mm512_load_si512(w + j * at.pair_stride + c * 32);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512bh xv = broadcast_pair(x + r * x_stride + 2 * j);
#pragma GCC unroll 8
      for (int c = 0; c < NP; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], xv, wv[c]);
    }
  }
  const int64_t n = a.w.rows;
  for (int c = 0; c < NP; ++c) {
    const int64_t col = (p0 + c) * kPanelWidth;
    const int64_t valid = n - col < kPanelWidth ? n - col : kPanelWidth;
    const auto mask = static_cast<__mmask16>((1u << valid) - 1u);
    __m512 bias = _mm512_setzero_ps();
    if (a.bias.data) {
      alignas(64) float b[kPanelWidth] = {};
      for (int64_t i = 0; i < valid; ++i) b[i] = weight_at(a.bias, col + i);
      bias = _mm512_load_ps(b);
    }
    for (int r = 0; r < MR; ++r) _mm512_mask_storeu_ps(a.y + (m0 + r) * n + col, mask, _mm512_add_ps(acc[r][c], bias));
  }
}

// Full tiles of NP panels, then the rest with half as many (never a lone latency-bound chain
// where a wider tile fits).
template <int MR, int NP>
void row_strip(const MatmulArgs& a, int64_t m0, int64_t p0, int64_t p1) {
  int64_t p = p0;
  for (; p + NP <= p1; p += NP) tile<MR, NP>(a, m0, p);
  if constexpr (NP > 1) row_strip<MR, NP / 2>(a, m0, p, p1);
}

template <int MR>
void rows_of(const MatmulArgs& a, int64_t m0, int64_t p0, int64_t p1) {
  row_strip<MR, panels_for(MR)>(a, m0, p0, p1);
}

}  // namespace

// The panels a group at a time (half a group for more than 12 rows); the rows in strips within
// it, so a tile's weights (up to 3 MB for k = 6144) are read from memory once and from cache by
// the later strips.
void matmul_panels_avx512_bf16(const MatmulArgs& a, int64_t p0, int64_t p1) {
  const bool decode_batch = a.m > kMaxRows && a.m <= kMaxDecodeRows;
  const int64_t step = a.m > kMaxRows && !decode_batch ? panels_for(kMaxRows) : kGroupPanels;
  for (int64_t g = p0; g < p1; g += step) {
    const int64_t g1 = std::min(p1, g + step);
    const auto strip = [&]<int MR>(int64_t m0) { rows_of<MR>(a, m0, g, g1); };
    if (decode_batch) for_row_strips<kDecodeStrip>(a.m, strip);
    else for_row_strips<kMaxRows>(a.m, strip);
  }
}

}  // namespace pio::cpu
