// The tiled GEMM over panel-packed bf16 weights with AVX-512 BF16 (layout in packed_bf16.h).
// A tile is MR rows of x by NP panels: MR x NP accumulators of 16 outputs each. Per input pair it
// loads NP weight vectors and broadcasts MR pairs of x, so each weight load serves MR rows and
// each x load NP panels. Compiled with AVX-512 flags; only called after the run-time check.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "gpu/cpu/cpu_features.h"
#include "gpu/cpu/packed_bf16.h"
#include "gpu/cpu/row_strips.h"
#include "gpu/cpu/weight_access.h"

namespace pio::cpu {
namespace {

constexpr int kMaxRows = 6;
// Batched decode (4 to 24 rows): strips of 3 rows by a whole group (24 accumulators). A strip
// alone would read a group's weights from memory and leave the core idle while the later strips
// reuse them from cache, so the group goes in chunks of kChunkPairs pairs (4 KB, in L1 for every
// strip), partial sums kept between chunks, and the second strip prefetches the chunk after
// next: the memory stream and the arithmetic overlap. Measured on the 2B decoder's matmuls at 2
// threads: 0.89x the time of whole-group strips at 8 rows, 0.73-0.77x at 4 and 6 rows (half-group
// tiles); chunks without the prefetch were 1.08x, and prefetching further ahead or spread over
// all strips gained nothing. Against prompt_panels: 0.72x the time at 13 rows, 0.82x at 16,
// 0.87x at 20, 0.93-0.98x at 24 and the same at 32 (so 24 is the last).
constexpr int kDecodeStrip = 3;
constexpr int64_t kMinDecodeRows = 4;
constexpr int64_t kMaxDecodeRows = 24;
constexpr int64_t kChunkPairs = 8;
constexpr int64_t kPrefetchAhead = 2 * kChunkPairs;

// Panels per tile for MR rows: a divisor of kGroupPanels, at least 8 accumulators so
// vdpbf16ps's latency is hidden even for one decode row; up to 3 rows take the whole group (24
// accumulators, the weights partly reloaded from L1), more rows half of it.
constexpr int panels_for(int mr) { return mr <= kDecodeStrip ? 8 : 4; }

inline __m512bh broadcast_pair(const uint16_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return (__m512bh)_mm512_set1_epi32(v);
}

// One panel's 16 output columns: y[row, columns] = accumulator + bias, a last panel's padding
// columns left out.
class PanelOutputs {
 public:
  PanelOutputs(const MatmulArgs& a, int64_t panel) : a_(a), col_(panel * kPanelWidth), mask_(valid(a, panel)) {
    const int64_t valid = std::min(kPanelWidth, a.w.rows - col_);
    if (a.bias.data) {
      alignas(64) float b[kPanelWidth] = {};
      for (int64_t i = 0; i < valid; ++i) b[i] = weight_at(a.bias, col_ + i);
      bias_ = _mm512_load_ps(b);
    }
  }
  // The panel's columns that exist (all but a last panel's padding).
  static __mmask16 valid(const MatmulArgs& a, int64_t panel) {
    return static_cast<__mmask16>((1u << std::min(kPanelWidth, a.w.rows - panel * kPanelWidth)) - 1u);
  }
  void store(int64_t row, __m512 acc) const {
    _mm512_mask_storeu_ps(a_.y + row * a_.w.rows + col_, mask_, _mm512_add_ps(acc, bias_));
  }

 private:
  const MatmulArgs& a_;
  int64_t col_;
  __mmask16 mask_;
  __m512 bias_ = _mm512_setzero_ps();
};

// acc[r][c] += row r of x times panel c, over the pairs [j0, j1) in pair order. w: the tile's
// first panel, pair_stride apart (packed_bf16_panel). prefetch, if not null: weights to fetch
// into L1 meanwhile, NP cache lines per pair from (j - j0) pair strides past it.
template <int MR, int NP>
[[gnu::always_inline]] inline void accumulate(__m512 (&acc)[MR][NP], const uint16_t* x, int64_t x_stride,
                                              const uint16_t* w, int64_t pair_stride, int64_t j0, int64_t j1,
                                              const uint16_t* prefetch) {
  for (int64_t j = j0; j < j1; ++j) {
    if (prefetch) {
      const auto* line = reinterpret_cast<const char*>(prefetch + (j - j0) * pair_stride);
#pragma GCC unroll 8
      for (int c = 0; c < NP; ++c) _mm_prefetch(line + c * 64, _MM_HINT_T0);
    }
    __m512bh wv[NP];
#pragma GCC unroll 8
    for (int c = 0; c < NP; ++c) wv[c] = (__m512bh)_mm512_load_si512(w + j * pair_stride + c * 32);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512bh xv = broadcast_pair(x + r * x_stride + 2 * j);
#pragma GCC unroll 8
      for (int c = 0; c < NP; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], xv, wv[c]);
    }
  }
}

// Rows [m0, m0 + MR) x panels [p0, p0 + NP) over the pairs [j0, j1): starts from zero at pair 0,
// else from the partial sums an earlier block left in y, and adds the bias after the last pair.
template <int MR, int NP>
void tile(const MatmulArgs& a, int64_t m0, int64_t p0, int64_t j0, int64_t j1) {
  const int64_t pairs = packed_bf16_pairs(a.k), x_stride = 2 * pairs, n = a.w.rows;
  const PanelAddress at = packed_bf16_panel(p0, packed_bf16_panels(n), pairs);
  // The accumulators must live in registers: the loops over the tile are unrolled fully
  // (GCC would otherwise keep acc in memory and reload it for every vdpbf16ps).
  __m512 acc[MR][NP];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < NP; ++c)
      acc[r][c] = j0 == 0 ? _mm512_setzero_ps()
                          : _mm512_maskz_loadu_ps(PanelOutputs::valid(a, p0 + c), a.y + (m0 + r) * n + (p0 + c) * kPanelWidth);
  accumulate(acc, a.x_bf16 + m0 * x_stride, x_stride, static_cast<const uint16_t*>(a.w.data) + at.offset,
             at.pair_stride, j0, j1, nullptr);
  for (int c = 0; c < NP; ++c) {
    if (j1 < pairs) {
      for (int r = 0; r < MR; ++r)
        _mm512_mask_storeu_ps(a.y + (m0 + r) * n + (p0 + c) * kPanelWidth, PanelOutputs::valid(a, p0 + c), acc[r][c]);
      continue;
    }
    const PanelOutputs out(a, p0 + c);
    for (int r = 0; r < MR; ++r) out.store(m0 + r, acc[r][c]);
  }
}

// Full tiles of NP panels over the pairs [j0, j1), then the rest with half as many (never a lone
// latency-bound chain where a wider tile fits).
template <int MR, int NP>
void row_strip(const MatmulArgs& a, int64_t m0, int64_t p0, int64_t p1, int64_t j0, int64_t j1) {
  int64_t p = p0;
  for (; p + NP <= p1; p += NP) tile<MR, NP>(a, m0, p, j0, j1);
  if constexpr (NP > 1) row_strip<MR, NP / 2>(a, m0, p, p1, j0, j1);
}

template <int MR>
void rows_of(const MatmulArgs& a, int64_t m0, int64_t p0, int64_t p1) {
  row_strip<MR, panels_for(MR)>(a, m0, p0, p1, 0, packed_bf16_pairs(a.k));
}

// Many rows (a prompt): half a group's panels at a time, its pairs in blocks that every row strip
// runs over from L2. A block of 4 panels takes a quarter of this CPU's L2 (1 MiB: 1024 pairs;
// a laptop's 256 KiB: 256); the first block is an eighth of that, so little is read before the
// arithmetic starts, and each strip prefetches its share of the next block (the next half
// group's first block after the last), so reading the weights overlaps the arithmetic. Partial
// sums wait in y between blocks: each output's pair order is the same whatever the blocking.
constexpr int kPromptPanels = panels_for(kMaxRows);

int64_t prompt_block_pairs() {
  static const int64_t value =
      std::clamp<int64_t>(cache_sizes().l2 / (4 * kPromptPanels * 64) / 8 * 8, 64, 1 << 16);
  return value;
}

// Fetches into L2 the lines of panels [p0, p1) for pairs [j0, j1).
void prefetch_pairs(const MatmulArgs& a, int64_t p0, int64_t p1, int64_t j0, int64_t j1) {
  const int64_t pairs = packed_bf16_pairs(a.k);
  const PanelAddress at = packed_bf16_panel(p0, packed_bf16_panels(a.w.rows), pairs);
  const auto* w = reinterpret_cast<const char*>(static_cast<const uint16_t*>(a.w.data) + at.offset);
  for (int64_t j = j0; j < j1; ++j)
    for (int64_t c = 0; c < p1 - p0; ++c) _mm_prefetch(w + (j * at.pair_stride + c * 32) * 2, _MM_HINT_T1);
}

void prompt_panels(const MatmulArgs& a, int64_t p0, int64_t p1) {
  const int64_t pairs = packed_bf16_pairs(a.k), block = prompt_block_pairs();
  const int64_t strips = (a.m + kMaxRows - 1) / kMaxRows;
  const auto block_after = [&](int64_t j) { return std::min(pairs - j, j == 0 ? block / 8 : block); };
  for (int64_t g = p0; g < p1; g += kPromptPanels) {
    const int64_t g1 = std::min(p1, g + kPromptPanels);
    for (int64_t j0 = 0, jc = 0; j0 < pairs; j0 += jc) {
      jc = block_after(j0);
      // The next block: this half group's, else the next half group's first.
      const bool more = j0 + jc < pairs;
      const int64_t q0 = more ? g : g1, q1 = more ? g1 : std::min(p1, g1 + kPromptPanels);
      const int64_t n0 = more ? j0 + jc : 0, nc = q0 < q1 ? block_after(n0) : 0;
      int64_t strip = 0;
      for_row_strips<kMaxRows, true>(a.m, [&]<int MR>(int64_t m0) {
        prefetch_pairs(a, q0, q1, n0 + nc * strip / strips, n0 + nc * (strip + 1) / strips);
        ++strip;
        row_strip<MR, panels_for(MR)>(a, m0, g, g1, j0, j0 + jc);
      });
    }
  }
}

// Batched decode over one full group, in chunks of pairs (see kChunkPairs). partial holds each
// row's 8 panels of sums between chunks ([row][panel][16]); the pair order per accumulator is
// the tile's, so the outputs are bit-identical to it.
template <int MR>
void strip_chunk(const MatmulArgs& a, const uint16_t* group, int64_t m0, int64_t j0, int64_t j1, float* partial,
                 const uint16_t* prefetch) {
  constexpr int NP = kGroupPanels;
  const int64_t x_stride = 2 * packed_bf16_pairs(a.k);
  float* sums = partial + m0 * NP * kPanelWidth;
  __m512 acc[MR][NP];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < NP; ++c)
      acc[r][c] = j0 == 0 ? _mm512_setzero_ps() : _mm512_load_ps(sums + (r * NP + c) * kPanelWidth);
  accumulate(acc, a.x_bf16 + m0 * x_stride, x_stride, group, NP * 32, j0, j1, prefetch);
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < NP; ++c) _mm512_store_ps(sums + (r * NP + c) * kPanelWidth, acc[r][c]);
}

void decode_group(const MatmulArgs& a, int64_t g) {
  const int64_t pairs = packed_bf16_pairs(a.k);
  const PanelAddress at = packed_bf16_panel(g, packed_bf16_panels(a.w.rows), pairs);
  const auto* group = static_cast<const uint16_t*>(a.w.data) + at.offset;
  alignas(64) float partial[kMaxDecodeRows * kGroupPanels * kPanelWidth];
  for (int64_t j0 = 0; j0 < pairs; j0 += kChunkPairs) {
    const int64_t j1 = std::min(pairs, j0 + kChunkPairs);
    const uint16_t* ahead = j0 + kPrefetchAhead < pairs ? group + (j0 + kPrefetchAhead) * at.pair_stride : nullptr;
    int strip = 0;  // the second strip's loads hit L1: it prefetches
    for_row_strips<kDecodeStrip>(a.m, [&]<int MR>(int64_t m0) {
      strip_chunk<MR>(a, group, m0, j0, j1, partial, strip++ == 1 ? ahead : nullptr);
    });
  }
  for (int c = 0; c < kGroupPanels; ++c) {
    const PanelOutputs out(a, g + c);
    for (int64_t r = 0; r < a.m; ++r)
      out.store(r, _mm512_load_ps(partial + (r * kGroupPanels + c) * kPanelWidth));
  }
}

}  // namespace

// The panels a group at a time, the rows in strips within it, so a tile's weights are read from
// memory once and from cache by the later strips; 4 to 24 rows take the chunked decode path over
// full groups, more rows prompt_panels.
void matmul_panels_avx512_bf16(const MatmulArgs& a, int64_t p0, int64_t p1) {
  if (a.m > kMaxDecodeRows) return prompt_panels(a, p0, p1);
  const bool decode_batch = a.m >= kMinDecodeRows;
  for (int64_t g = p0; g < p1; g += kGroupPanels) {
    const int64_t g1 = std::min(p1, g + kGroupPanels);
    if (decode_batch && g1 - g == kGroupPanels) {
      decode_group(a, g);
      continue;
    }
    const auto strip = [&]<int MR>(int64_t m0) { rows_of<MR>(a, m0, g, g1); };
    if (decode_batch) for_row_strips<kDecodeStrip>(a.m, strip);
    else for_row_strips<kMaxRows>(a.m, strip);
  }
}

}  // namespace pio::cpu
