// The tiled GEMM over panel-packed bf16 weights with AVX2 + FMA (layout in packed_bf16.h), for
// CPUs without AVX-512 BF16. x stays float32. Half a panel pair (8 outputs x 2 inputs) is one
// 256-bit load; shifting and masking give its even and odd inputs as float32, and each row
// adds x[2j] * even + x[2j + 1] * odd by two FMAs. One row reads a panel group as one stream
// with every panel in registers; 2 to 63 rows read it in windows of a few pairs (windowed_group);
// from 64 rows on, a task widens each block of its panels once and runs plain float32 6x16 tiles
// over it (wide_panels below).
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "gpu/cpu/cpu_features.h"
#include "gpu/cpu/packed_bf16.h"
#include "gpu/cpu/row_strips.h"
#include "gpu/cpu/weight_access.h"

namespace pio::cpu {
namespace {

constexpr int kMaxRows = 6;

// Stores one row's 16 outputs of the panel at column col (the last panel's pad dropped), adding
// the bias when asked.
inline void store_outputs(const MatmulArgs& a, int64_t row, int64_t col, __m256 lo, __m256 hi, bool add_bias) {
  alignas(32) float out[kPanelWidth];
  _mm256_store_ps(out, lo);
  _mm256_store_ps(out + 8, hi);
  const int64_t n = a.w.rows, valid = std::min(kPanelWidth, n - col);
  float* y = a.y + row * n + col;
  for (int64_t i = 0; i < valid; ++i) y[i] = add_bias && a.bias.data ? out[i] + weight_at(a.bias, col + i) : out[i];
}

// One input pair j for the tile: the even input's FMAs, then (unless k is odd and j the last
// pair, whose x has no odd value) the odd input's. Inlined so acc stays in registers.
template <int MR, int NP, bool HasOdd>
inline __attribute__((always_inline)) void pair_step(__m256 (&acc)[MR][NP][2], const uint16_t* w, const float* x,
                                                     int64_t k, int64_t j) {
  const __m256i high = _mm256_set1_epi32(static_cast<int32_t>(0xffff0000u));
#pragma GCC unroll 8
  for (int c = 0; c < NP; ++c) {
    const auto* v = reinterpret_cast<const __m256i*>(w + c * 32);
    const __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_load_si256(v), 16));
    const __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_load_si256(v + 1), 16));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 b = _mm256_broadcast_ss(x + r * k + 2 * j);
      acc[r][c][0] = _mm256_fmadd_ps(b, e0, acc[r][c][0]);
      acc[r][c][1] = _mm256_fmadd_ps(b, e1, acc[r][c][1]);
    }
    if constexpr (HasOdd) {
      const __m256 o0 = _mm256_castsi256_ps(_mm256_and_si256(_mm256_load_si256(v), high));
      const __m256 o1 = _mm256_castsi256_ps(_mm256_and_si256(_mm256_load_si256(v + 1), high));
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const __m256 b = _mm256_broadcast_ss(x + r * k + 2 * j + 1);
        acc[r][c][0] = _mm256_fmadd_ps(b, o0, acc[r][c][0]);
        acc[r][c][1] = _mm256_fmadd_ps(b, o1, acc[r][c][1]);
      }
    }
  }
}

template <int MR, int NP>
void tile(const MatmulArgs& a, int64_t m0, int64_t p0) {
  const int64_t k = a.k, pairs = packed_bf16_pairs(k), full_pairs = k / 2;
  const PanelAddress at = packed_bf16_panel(p0, packed_bf16_panels(a.w.rows), pairs);
  const float* x = a.x + m0 * k;
  const auto* w = static_cast<const uint16_t*>(a.w.data) + at.offset;
  // Loops over the tile unrolled fully so the accumulators stay in registers.
  __m256 acc[MR][NP][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < NP; ++c) acc[r][c][0] = acc[r][c][1] = _mm256_setzero_ps();
  for (int64_t j = 0; j < full_pairs; ++j) pair_step<MR, NP, true>(acc, w + j * at.pair_stride, x, k, j);
  if (pairs > full_pairs) pair_step<MR, NP, false>(acc, w + full_pairs * at.pair_stride, x, k, full_pairs);
#pragma GCC unroll 8
  for (int c = 0; c < NP; ++c)
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) store_outputs(a, m0 + r, (p0 + c) * kPanelWidth, acc[r][c][0], acc[r][c][1], true);
}

// Many rows: the weights are widened once per block of wide_inputs() inputs into float32 panels
// (a contiguous 16-float row per input) and every 6-row tile reads them from cache with plain
// FMAs, instead of each tile widening them again. The per-output FMA order (input by input from
// zero, then + bias) is the same as tile()'s, so rows come out bit-identical either way.
// From this many rows on. Below it the windowed tiles (windowed_group), which widen each pair as
// they read it, took 0.65-0.8x the time at 16 to 48 rows and the same from 64 to 128 (2b decode
// matrices, 2 threads, Zen 4 on the AVX2 path).
constexpr int64_t kWideRows = 64;

// Inputs per widened block: a group's block (8 panels x inputs x 64 bytes) takes a quarter of this
// CPU's L2, the rest left for the next block's bf16 stream, x's rows and y's partial sums
// (1 MiB L2: 512 inputs; a laptop's 256 KiB: 128; on a 1 MiB Zen 4, 256 to 1024 measured within
// 3% of each other). A multiple of 16, so pairs never straddle two blocks. Changes no result: each output's FMA order is the same whatever the blocking.
int64_t wide_inputs() {
  static const int64_t value =
      std::clamp<int64_t>(cache_sizes().l2 / (4 * kGroupPanels * kPanelWidth * 4) / 16 * 16, 64, 2048);
  return value;
}

// Widens inputs [k0, k0 + kc) of the panels [p0, p1) to dst[panel - p0][input - k0][16] (stride
// inputs per panel), reading each group's packed stream in order (pair by pair, a pair's panels
// side by side), so the weights come from memory as one sequential stream.
void widen_block(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t k0, int64_t kc, int64_t stride, float* dst) {
  const int64_t pairs = packed_bf16_pairs(a.k), panels = packed_bf16_panels(a.w.rows);
  const __m256i high = _mm256_set1_epi32(static_cast<int32_t>(0xffff0000u));
  for (int64_t g = p0; g < p1; g = (g / kGroupPanels + 1) * kGroupPanels) {
    const int64_t g1 = std::min(p1, (g / kGroupPanels + 1) * kGroupPanels);
    const PanelAddress at = packed_bf16_panel(g, panels, pairs);
    const auto* w = static_cast<const uint16_t*>(a.w.data) + at.offset;
    for (int64_t i = 0; i < kc; i += 2) {
      const uint16_t* pair = w + (k0 + i) / 2 * at.pair_stride;
      for (int64_t p = g; p < g1; ++p) {
        float* out = dst + (p - p0) * stride * kPanelWidth + i * kPanelWidth;
        for (int h = 0; h < 2; ++h) {
          const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(pair + (p - g) * 32 + h * 16));
          _mm256_store_ps(out + h * 8, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
          _mm256_store_ps(out + kPanelWidth + h * 8, _mm256_castsi256_ps(_mm256_and_si256(v, high)));
        }
      }
    }
  }
}

// Rows [m0, m0 + MR) x panel p over inputs [k0, k0 + kc), from widened weights w; starts from zero
// on the first block, else from the partial sums left in y, and adds the bias after the last.
template <int MR>
void wide_tile(const MatmulArgs& a, int64_t m0, int64_t p, int64_t k0, int64_t kc, const float* w) {
  const int64_t n = a.w.rows, col = p * kPanelWidth;
  const bool first = k0 == 0, last = k0 + kc == a.k, full = col + kPanelWidth <= n;
  __m256 acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    const float* y = a.y + (m0 + r) * n + col;
    if (first) {
      acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    } else if (full) {
      acc[r][0] = _mm256_loadu_ps(y);
      acc[r][1] = _mm256_loadu_ps(y + 8);
    } else {  // the last panel's pad: only its valid outputs are in y
      alignas(32) float partial[kPanelWidth] = {};
      std::copy(y, y + (n - col), partial);
      acc[r][0] = _mm256_load_ps(partial);
      acc[r][1] = _mm256_load_ps(partial + 8);
    }
  }
  // A pointer per row, so each broadcast addresses x as row[r] + i with no arithmetic.
  const float* row[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) row[r] = a.x + (m0 + r) * a.k + k0;
  for (int64_t i = 0; i < kc; ++i) {
    const __m256 w0 = _mm256_load_ps(w + i * kPanelWidth), w1 = _mm256_load_ps(w + i * kPanelWidth + 8);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 b = _mm256_broadcast_ss(row[r] + i);
      acc[r][0] = _mm256_fmadd_ps(b, w0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(b, w1, acc[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    if (last || !full) {
      store_outputs(a, m0 + r, col, acc[r][0], acc[r][1], last);
    } else {
      _mm256_storeu_ps(a.y + (m0 + r) * n + col, acc[r][0]);
      _mm256_storeu_ps(a.y + (m0 + r) * n + col + 8, acc[r][1]);
    }
  }
}

template <int MR>
void wide_strip(const MatmulArgs& a, int64_t m0, int64_t p0, int64_t p1, int64_t k0, int64_t kc, int64_t stride,
                const float* w) {
  for (int64_t p = p0; p < p1; ++p) wide_tile<MR>(a, m0, p, k0, kc, w + (p - p0) * stride * kPanelWidth);
}

// Fetches share `part` of `parts` of [begin, begin + bytes) into L2, a cache line at a time.
void prefetch_share(const char* begin, int64_t bytes, int64_t part, int64_t parts) {
  const int64_t lines = (bytes + 63) / 64, l0 = lines * part / parts, l1 = lines * (part + 1) / parts;
  for (int64_t l = l0; l < l1; ++l) _mm_prefetch(begin + l * 64, _MM_HINT_T1);
}

// Block by block over k: widens the block, then runs every row strip over it, each strip also
// prefetching its share of the next block's bf16 stream so that reading the weights from memory
// overlaps the arithmetic (without it, short prompts wait for memory at every block). matmul's
// tasks are one group each; for more, the prefetch covers the first group's stream only.
void wide_panels(const MatmulArgs& a, int64_t p0, int64_t p1) {
  struct alignas(32) Lane8 {
    float v[8];
  };
  thread_local std::vector<Lane8> block;  // one block of the task's panels; it only grows
  const int64_t stride = wide_inputs();
  const auto need = static_cast<size_t>((p1 - p0) * stride * kPanelWidth / 8);
  if (block.size() < need) block.resize(need);
  auto* w = block.data()->v;
  const PanelAddress at = packed_bf16_panel(p0, packed_bf16_panels(a.w.rows), packed_bf16_pairs(a.k));
  const auto* stream = reinterpret_cast<const char*>(static_cast<const uint16_t*>(a.w.data) + at.offset);
  const int64_t strips = (a.m + kMaxRows - 1) / kMaxRows, pair_bytes = at.pair_stride * 2;
  for (int64_t k0 = 0, kc = 0; k0 < a.k; k0 += kc) {
    kc = std::min(k0 == 0 ? stride / 8 : stride, a.k - k0);  // a short first block: less to wait for
    const int64_t next = k0 + kc;
    const int64_t next_bytes = (packed_bf16_pairs(std::min(a.k, next + stride)) - next / 2) * pair_bytes;
    widen_block(a, p0, p1, k0, kc, stride, w);
    int64_t strip = 0;
    for_row_strips<kMaxRows, true>(a.m, [&]<int MR>(int64_t m0) {
      if (next < a.k) prefetch_share(stream + next / 2 * pair_bytes, next_bytes, strip++, strips);
      wide_strip<MR>(a, m0, p0, p1, k0, kc, stride, w);
    });
  }
}

// Pairs per window of windowed_group: 8 pairs of a full group are 4 KiB, read panel by panel
// within the window and so all of it soon after its first line.
constexpr int64_t kWindowPairs = 8;

// 2 to 63 rows (a batched decode step, a short prompt): the MR rows x every panel of the group at
// p0 (up to kGroupPanels), window by window of kWindowPairs input pairs, each window's lines
// prefetched while the one before computes. In a window, panel by panel, the panel's
// accumulators come from memory, take the window's pairs and go back. A panel's lines lie 512
// bytes apart, which the hardware prefetchers do not follow: tiles of one or two panels over all
// the inputs waited on memory at every line (a 4-row step took 3.7x the time of a 1-row one on
// the 2b decode matrices, 2 threads, Zen 4; now 1.3x; windows without the prefetch gained
// nothing). Each output's FMA order is tile()'s (pair by pair from zero, even input then odd,
// + bias), so rows come out bit-identical.
template <int MR>
void windowed_group(const MatmulArgs& a, int64_t m0, int64_t p0, int64_t p1) {
  const int64_t k = a.k, pairs = packed_bf16_pairs(k), full_pairs = k / 2, np = p1 - p0;
  const PanelAddress at = packed_bf16_panel(p0, packed_bf16_panels(a.w.rows), pairs);
  const float* x = a.x + m0 * k;
  const auto* w = static_cast<const uint16_t*>(a.w.data) + at.offset;
  __m256 sums[kGroupPanels][MR][1][2];
  for (int64_t c = 0; c < np; ++c)
    for (int r = 0; r < MR; ++r) sums[c][r][0][0] = sums[c][r][0][1] = _mm256_setzero_ps();
  const char* stream = reinterpret_cast<const char*>(w);
  const int64_t pair_bytes = at.pair_stride * 2, end_bytes = pairs * pair_bytes;
  const auto window = [&]<bool HasOdd>(int64_t j0, int64_t j1) {
    // The next window's lines on their way while this one computes.
    const int64_t from = (j0 + kWindowPairs) * pair_bytes, to = std::min(end_bytes, from + kWindowPairs * pair_bytes);
    for (int64_t b = from; b < to; b += 64) _mm_prefetch(stream + b, _MM_HINT_T0);
    for (int64_t c = 0; c < np; ++c) {
      __m256 acc[MR][1][2];
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) acc[r][0][0] = sums[c][r][0][0], acc[r][0][1] = sums[c][r][0][1];
      for (int64_t j = j0; j < j1; ++j) pair_step<MR, 1, HasOdd>(acc, w + j * at.pair_stride + c * 32, x, k, j);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) sums[c][r][0][0] = acc[r][0][0], sums[c][r][0][1] = acc[r][0][1];
    }
  };
  for (int64_t j0 = 0; j0 < full_pairs; j0 += kWindowPairs)
    window.template operator()<true>(j0, std::min(full_pairs, j0 + kWindowPairs));
  if (pairs > full_pairs) window.template operator()<false>(full_pairs, pairs);
  for (int64_t c = 0; c < np; ++c)
    for (int r = 0; r < MR; ++r)
      store_outputs(a, m0 + r, (p0 + c) * kPanelWidth, sums[c][r][0][0], sums[c][r][0][1], true);
}

// One row reads the group as one stream with all its panels in registers (tile<1, 8>: 16
// accumulators, a few spilled, measured 1.6x faster on lm_head than two half-group passes); more
// rows take it in windows. p0 starts a group and [p0, p1) holds whole groups (the last may be
// narrower).
template <int MR>
void row_strip(const MatmulArgs& a, int64_t m0, int64_t p0, int64_t p1) {
  if constexpr (MR == 1) {
    int64_t p = p0;
    for (; p + kGroupPanels <= p1; p += kGroupPanels) tile<1, kGroupPanels>(a, m0, p);
    for (; p < p1; ++p) tile<1, 1>(a, m0, p);
  } else {
    for (int64_t g = p0; g < p1; g += kGroupPanels) windowed_group<MR>(a, m0, g, std::min(p1, g + kGroupPanels));
  }
}

}  // namespace

void matmul_panels_avx2(const MatmulArgs& a, int64_t p0, int64_t p1) {
  if (a.m >= kWideRows && a.k > 0) return wide_panels(a, p0, p1);
  for_row_strips<kMaxRows>(a.m, [&]<int MR>(int64_t m0) { row_strip<MR>(a, m0, p0, p1); });
}

}  // namespace pio::cpu
