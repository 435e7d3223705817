// Q8/Q4 weights with AVX2: a 256-bit load holds a 4-byte group of 8 of a panel's 16 rows (one
// "half"), multiplied by 4 broadcast activation bytes with vpmaddubsw (unsigned x signed bytes
// to 16-bit pair sums) and vpmaddwd (to 32-bit). Q8 moves the weight's sign onto x (|w| times
// sign(w)·x) so a pair sum is at most 2·127·127 and cannot saturate; Q4's nibbles are unsigned,
// and its 16-bit sums of a whole block stay below 8·2·15·127 < 2^15 before the widening.
// The float steps are the VNNI path's on 8 lanes, so both paths give the same bits.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "gpu/cpu/quant.h"
#include "gpu/cpu/quant_layout.h"
#include "gpu/cpu/weight_access.h"

namespace pio::cpu {
namespace {

// The loops over a tile carry `#pragma GCC unroll`: fully unrolled, the accumulators stay in
// registers (otherwise GCC keeps them in memory and reloads them for every dot product).

using namespace quant_layout;

constexpr int64_t kHalfRows = kPanelRows / 2;

__m256i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

// Rows [i0, i0 + MR) x halves [h0, h0 + NH) (half h = panel rows 8(h % 2) .. of panel h / 2).
template <bool kQ4, int MR, int NH>
void tile(const QuantMatmulArgs& a, int64_t i0, int64_t h0, int64_t n0, int64_t n1) {
  const WeightFormat f = kQ4 ? WeightFormat::Q4 : WeightFormat::Q8;
  const QuantizedRows& x = *a.x;
  const int64_t kb = x.blocks;
  const int64_t pb = panel_bytes(f, kb);
  const uint8_t* panel[NH];
  int64_t half_off[NH];
#pragma GCC unroll 8
  for (int c = 0; c < NH; ++c) {
    panel[c] = static_cast<const uint8_t*>(a.w.data) + (h0 + c) / 2 * pb;
    half_off[c] = (h0 + c) % 2;
  }
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[MR][NH];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < NH; ++c) acc[r][c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < kb; ++b) {
    __m256i dot[MR][NH];
    const int64_t qoff = quant_offset(f, b);
    if constexpr (kQ4) {
      const __m256i low4 = _mm256_set1_epi8(0x0f);
      __m256i sum16[MR][NH];
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
        for (int c = 0; c < NH; ++c) sum16[r][c] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int i = 0; i < 4; ++i) {
        __m256i lo[NH], hi[NH];
#pragma GCC unroll 8
        for (int c = 0; c < NH; ++c) {
          const __m256i raw =
              _mm256_load_si256(reinterpret_cast<const __m256i*>(panel[c] + qoff + i * 64 + half_off[c] * 32));
          lo[c] = _mm256_and_si256(raw, low4);
          hi[c] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
        }
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
          const int8_t* xq = x.q.data() + (i0 + r) * kb * kBlock + b * kBlock + 8 * i;
          const __m256i x0 = broadcast4(xq), x1 = broadcast4(xq + 4);
#pragma GCC unroll 8
          for (int c = 0; c < NH; ++c) {
            const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo[c], x0), _mm256_maddubs_epi16(hi[c], x1));
            sum16[r][c] = _mm256_add_epi16(sum16[r][c], p);
          }
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
        for (int c = 0; c < NH; ++c) dot[r][c] = _mm256_madd_epi16(sum16[r][c], ones);
    } else {
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
        for (int c = 0; c < NH; ++c) dot[r][c] = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        __m256i wv[NH], wabs[NH];
#pragma GCC unroll 8
        for (int c = 0; c < NH; ++c) {
          wv[c] = _mm256_load_si256(reinterpret_cast<const __m256i*>(panel[c] + qoff + j * 64 + half_off[c] * 32));
          wabs[c] = _mm256_sign_epi8(wv[c], wv[c]);
        }
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
          const __m256i xv = broadcast4(x.q.data() + (i0 + r) * kb * kBlock + b * kBlock + 4 * j);
#pragma GCC unroll 8
          for (int c = 0; c < NH; ++c) {
            const __m256i p = _mm256_maddubs_epi16(wabs[c], _mm256_sign_epi8(xv, wv[c]));
            dot[r][c] = _mm256_add_epi32(dot[r][c], _mm256_madd_epi16(p, ones));
          }
        }
      }
    }
#pragma GCC unroll 8
    for (int c = 0; c < NH; ++c) {
      const uint8_t* scales = panel[c] + scale_offset(f, b) + half_off[c] * kHalfRows * 2;
      const __m256 d = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(scales)));
      const __m256 mn = kQ4 ? _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(scales + 32)))
                            : _mm256_setzero_ps();
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const int64_t at = (i0 + r) * kb + b;
        const __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(dot[r][c]), _mm256_set1_ps(x.d[at]));
        acc[r][c] = _mm256_fmadd_ps(d, t, acc[r][c]);
        if constexpr (kQ4) acc[r][c] = _mm256_fmadd_ps(mn, _mm256_set1_ps(x.ds[at]), acc[r][c]);
      }
    }
  }
  const int64_t n = a.w.rows;
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < NH; ++c) {
      alignas(32) float lanes[kHalfRows];
      _mm256_store_ps(lanes, acc[r][c]);
      const int64_t first = (h0 + c) * kHalfRows;
      for (int64_t col = std::max(first, n0); col < std::min(first + kHalfRows, n1); ++col) {
        float s = lanes[col - first];
        if (a.bias.data) s += weight_at(a.bias, col);
        a.y[(i0 + r) * n + col] = s;
      }
    }
  }
}

template <bool kQ4, int MR, int NH>
void row_strip(const QuantMatmulArgs& a, int64_t i0, int64_t n0, int64_t n1) {
  const int64_t h_end = (n1 + kHalfRows - 1) / kHalfRows;
  int64_t h = n0 / kHalfRows;
  for (; h + NH <= h_end; h += NH) tile<kQ4, MR, NH>(a, i0, h, n0, n1);
  for (; h < h_end; ++h) tile<kQ4, MR, 1>(a, i0, h, n0, n1);
}

// 2 rows x 2 halves fill the 16 ymm registers (float and integer accumulators, weights, x). A
// lone row (decode) streams its weights from memory: Q4 one panel at a time and Q8 four, the
// widths that kept up with memory best (on Zen 4, 0.96 and 0.94 of the read bandwidth with two
// threads, against 0.77 and 0.91 with two panels for both).
template <bool kQ4>
void block(const QuantMatmulArgs& a, int64_t n0, int64_t n1) {
  const int64_t m = a.x->m;
  int64_t i = 0;
  for (; i + 2 <= m; i += 2) row_strip<kQ4, 2, 2>(a, i, n0, n1);
  if (i < m) row_strip<kQ4, 1, kQ4 ? 2 : 8>(a, i, n0, n1);
}

}  // namespace

void quant_matmul_block_avx2(const QuantMatmulArgs& a, int64_t n0, int64_t n1) {
  if (a.w.format == WeightFormat::Q4) block<true>(a, n0, n1);
  else block<false>(a, n0, n1);
}

}  // namespace pio::cpu
