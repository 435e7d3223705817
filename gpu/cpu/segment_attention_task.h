// The body of segment_attention (attention.h): one task's query block of one head over its
// segment's packed KV tiles, with the micro-kernels of the paged attention task
// (paged_attention_task.h: the score and value FMA tiles, the online softmax). Included only by
// paged_attention.cpp (8 lanes) and paged_attention_avx512.cpp (16 lanes), each compiled with
// -ffp-contract=off; like that header it is all in an anonymous namespace, one copy per
// instruction set. Both widths give the same bits.
#pragma once

#include <algorithm>
#include <limits>

#include "gpu/cpu/attention.h"
#include "gpu/cpu/paged_attention_task.h"

namespace pio::cpu {
namespace {

// Each query's scores over a tile are q·k in one FMA chain over d from 0 (tile_scores), then
// softmax_tile's online update and tile_values' o·α + p·v in slot order, tile after tile from
// the segment's first row: a query's arithmetic never depends on the other queries of its task.
template <class S>
void run_segment_task(const SegmentTaskArgs& a, int64_t task, int worker) {
  SegmentScratch& sc = *a.scratch;
  const SegmentQueryBlock& b = a.blocks[static_cast<size_t>(task / sc.heads)];
  const int64_t h = task % sc.heads, nv = b.end - b.begin;
  const int hd = static_cast<int>(sc.head_dim);
  const auto seg = static_cast<size_t>(b.segment);
  const int64_t len = sc.bounds[seg + 1] - sc.bounds[seg];
  const float* tiles = sc.packed.data() + sc.packed_offset(b.segment, h);
  float* s = sc.per_worker[static_cast<size_t>(worker)].data();
  float* o = s + kAttentionRowBlock * T;
  float* m = o + kAttentionRowBlock * hd;
  float* l = m + kAttentionRowBlock;
  float* alpha = l + kAttentionRowBlock;
  std::fill(m, m + nv, -std::numeric_limits<float>::infinity());
  std::fill(l, l + nv, 0.0f);
  std::fill(o, o + nv * hd, 0.0f);
  const auto query = [&](int64_t j) { return a.q + (b.begin + j) * a.row_stride + h * hd; };
  for (int64_t t0 = 0; t0 < len; t0 += T) {
    const int64_t n = std::min<int64_t>(T, len - t0), cols = (n + S::L - 1) / S::L * S::L;
    const float* kt = tiles + (t0 / T) * 2 * T * hd;
    const float* vrows = kt + T * hd;
    for_each_run(0, nv, [&]<int R>(int64_t j) {
      const float* qs[R];
      for (int r = 0; r < R; ++r) qs[r] = query(j + r);
      tile_scores<S, R>(qs, kt, hd, cols, s + j * T);
    });
    for (int64_t j = 0; j < nv; ++j) alpha[j] = softmax_tile(s + j * T, n, a.scale, m[j], l[j]);
    for_each_run(0, nv, [&]<int R>(int64_t j) {
      float* os[R];
      const float* ps[R];
      int64_t ns[R];
      for (int r = 0; r < R; ++r) os[r] = o + (j + r) * hd, ps[r] = s + (j + r) * T, ns[r] = n;
      tile_values<S, R>(os, alpha + j, ps, ns, vrows, hd);
    });
  }
  for (int64_t j = 0; j < nv; ++j) {
    const float inv = 1.0f / l[j];
    float* dst = a.out + (b.begin + j) * a.out_stride + h * hd;
    for (int d = 0; d < hd; ++d) dst[d] = o[j * hd + d] * inv;
  }
}

}  // namespace
}  // namespace pio::cpu
