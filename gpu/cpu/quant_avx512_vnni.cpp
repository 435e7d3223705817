// Q8/Q4 weights on CPUs with AVX-512 VNNI: one vpdpbusd multiplies a 4-byte group of all 16
// rows of a panel (one 512-bit load) by 4 broadcast activation bytes. vpdpbusd takes unsigned
// x signed bytes: Q4's quants are unsigned already; Q8's are flipped to q + 128 (xor 0x80) and
// the accumulator starts at -128 * sum(x) to cancel the offset exactly.
// Compiled with AVX-512 flags; only called after the run-time check in cpu_features.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "gpu/cpu/quant.h"
#include "gpu/cpu/quant_layout.h"
#include "gpu/cpu/row_strips.h"
#include "gpu/cpu/weight_access.h"

namespace pio::cpu {
namespace {

// The loops over a tile carry `#pragma GCC unroll`: fully unrolled, the accumulators stay in
// registers (otherwise GCC keeps them in memory and reloads them for every dot product).

using namespace quant_layout;

__m512i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

// Rows [i0, i0 + MR) x panels [p0, p0 + NP): every output's float sequence is the one in quant.h.
template <bool kQ4, int MR, int NP>
void tile(const QuantMatmulArgs& a, int64_t i0, int64_t p0, int64_t n0, int64_t n1) {
  const WeightFormat f = kQ4 ? WeightFormat::Q4 : WeightFormat::Q8;
  const QuantizedRows& x = *a.x;
  const int64_t kb = x.blocks;
  const int64_t pb = panel_bytes(f, kb);
  const uint8_t* panel[NP];
#pragma GCC unroll 8
  for (int c = 0; c < NP; ++c) panel[c] = static_cast<const uint8_t*>(a.w.data) + (p0 + c) * pb;
  __m512 acc[MR][NP];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < NP; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < kb; ++b) {
    __m512i dot[MR][NP];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512i init = kQ4 ? _mm512_setzero_si512() : _mm512_set1_epi32(x.s[(i0 + r) * kb + b]);
#pragma GCC unroll 8
      for (int c = 0; c < NP; ++c) dot[r][c] = init;
    }
    const int64_t qoff = quant_offset(f, b);
    if constexpr (kQ4) {
      const __m512i low4 = _mm512_set1_epi8(0x0f);
#pragma GCC unroll 8
      for (int i = 0; i < 4; ++i) {
        __m512i lo[NP], hi[NP];
#pragma GCC unroll 8
        for (int c = 0; c < NP; ++c) {
          const __m512i raw = _mm512_load_si512(panel[c] + qoff + i * 64);
          lo[c] = _mm512_and_si512(raw, low4);
          hi[c] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
        }
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
          const int8_t* xq = x.q.data() + (i0 + r) * kb * kBlock + b * kBlock + 8 * i;
          const __m512i x0 = broadcast4(xq), x1 = broadcast4(xq + 4);
#pragma GCC unroll 8
          for (int c = 0; c < NP; ++c) {
            dot[r][c] = _mm512_dpbusd_epi32(dot[r][c], lo[c], x0);
            dot[r][c] = _mm512_dpbusd_epi32(dot[r][c], hi[c], x1);
          }
        }
      }
    } else {
      const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        __m512i wv[NP];
#pragma GCC unroll 8
        for (int c = 0; c < NP; ++c) wv[c] = _mm512_xor_si512(_mm512_load_si512(panel[c] + qoff + j * 64), flip);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
          const __m512i xv = broadcast4(x.q.data() + (i0 + r) * kb * kBlock + b * kBlock + 4 * j);
#pragma GCC unroll 8
          for (int c = 0; c < NP; ++c) dot[r][c] = _mm512_dpbusd_epi32(dot[r][c], wv[c], xv);
        }
      }
    }
#pragma GCC unroll 8
    for (int c = 0; c < NP; ++c) {
      const uint8_t* scales = panel[c] + scale_offset(f, b);
      const __m512 d = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(scales)));
      const __m512 mn = kQ4 ? _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(scales + 32)))
                            : _mm512_setzero_ps();
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const int64_t at = (i0 + r) * kb + b;
        const __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(dot[r][c]), _mm512_set1_ps(x.d[at]));
        acc[r][c] = _mm512_fmadd_ps(d, t, acc[r][c]);
        if constexpr (kQ4) acc[r][c] = _mm512_fmadd_ps(mn, _mm512_set1_ps(x.ds[at]), acc[r][c]);
      }
    }
  }
  const int64_t n = a.w.rows;
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < NP; ++c) {
      alignas(64) float lanes[kPanelRows];
      _mm512_store_ps(lanes, acc[r][c]);
      const int64_t first = (p0 + c) * kPanelRows;
      for (int64_t col = std::max(first, n0); col < std::min(first + kPanelRows, n1); ++col) {
        float s = lanes[col - first];
        if (a.bias.data) s += weight_at(a.bias, col);
        a.y[(i0 + r) * n + col] = s;
      }
    }
  }
}

template <bool kQ4, int MR, int NP>
void row_strip(const QuantMatmulArgs& a, int64_t i0, int64_t n0, int64_t n1) {
  const int64_t p_end = (n1 + kPanelRows - 1) / kPanelRows;
  int64_t p = n0 / kPanelRows;
  for (; p + NP <= p_end; p += NP) tile<kQ4, MR, NP>(a, i0, p, n0, n1);
  for (; p < p_end; ++p) tile<kQ4, MR, 1>(a, i0, p, n0, n1);
}

// 4 rows x 2 panels: 8 float + 8 integer accumulators, enough independent vpdpbusd chains. A
// lone row (decode) streams its weights from memory: Q4 one panel at a time, Q8 four, the widths
// that kept up with memory best (on Zen 4, 0.97 and 0.98 of the read bandwidth with two threads;
// Q4 read four panels at a time at 0.88).
template <bool kQ4, int MR>
constexpr int panels_per_tile() {
  if constexpr (MR >= 3) return 2;
  else if constexpr (MR == 1 && kQ4) return 1;
  else return 4;
}

template <bool kQ4>
void block(const QuantMatmulArgs& a, int64_t n0, int64_t n1) {
  for_row_strips<4>(a.x->m, [&]<int MR>(int64_t i) { row_strip<kQ4, MR, panels_per_tile<kQ4, MR>()>(a, i, n0, n1); });
}

}  // namespace

void quant_matmul_block_avx512_vnni(const QuantMatmulArgs& a, int64_t n0, int64_t n1) {
  if (a.w.format == WeightFormat::Q4) block<true>(a, n0, n1);
  else block<false>(a, n0, n1);
}

}  // namespace pio::cpu
