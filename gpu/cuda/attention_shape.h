// How the attention kernels cut their work into CTAs: what CTA (x, y, z) of each grid computes,
// as `__host__ __device__` code shared by the kernels (gpu/cuda/attention.cu) and the CPU tests
// that run every CTA of a grid (tests/gpu/test_cuda_attention_math.cpp).
#pragma once

#include <cstdint>

#include "gpu/cuda/attention_math.h"
#include "gpu/cuda/device_kv.h"

namespace pio::cuda {

// Query heads per CTA out of a GQA group of `group` heads: its largest divisor up to
// kAttnMaxQueries; the prefill kernel's CTA takes kAttnMaxQueries / that many rows.
PIO_HD int attn_heads_per_cta(int group) {
  int h = group < kAttnMaxQueries ? group : kAttnMaxQueries;
  while (group % h != 0) --h;
  return h;
}
PIO_HD int attn_rows_per_cta(int group) { return kAttnMaxQueries / attn_heads_per_cta(group); }

// One paged_attention call as the kernels see it (every pointer a device pointer).
struct PagedAttentionGrid {
  const float* q;
  float* out;
  int n_heads;
  int head_dim;
  const unsigned char* k;
  const unsigned char* v;
  KvDType dtype;
  int block_size;
  int kv_heads;
  int64_t row_bytes;
  const DeviceSequence* seqs;
  float scale;
  float* partials;     // flash-decode: [sequence][query head][split] partials of attn_partial_floats
  int64_t max_splits;  // flash-decode: splits per (sequence, head) in `partials`

  PIO_HD int group() const { return n_heads / kv_heads; }
  // CTA x of the head dimension: heads_per_cta query heads of one KV head.
  PIO_HD int kv_head(int x) const { return x / (group() / attn_heads_per_cta(group())); }
  PIO_HD int first_head(int x) const {
    const int hpc = attn_heads_per_cta(group());
    return kv_head(x) * group() + (x % (group() / hpc)) * hpc;
  }
  PIO_HD PagedKv kv(int x, int seq) const {
    return {k, v, {seqs[seq].block_table, block_size, kv_heads, row_bytes}, dtype, head_dim, kv_head(x)};
  }
  // The queries of CTA (x, row block y, sequence seq) with `rows_per_cta` rows per block; rows == 0
  // when the block lies past the sequence's queries.
  PIO_HD PagedQueries queries(int x, int64_t y, int seq, int rows_per_cta) const {
    const DeviceSequence& s = seqs[seq];
    const int64_t row0 = y * rows_per_cta, left = s.n_queries - row0;
    const int rows = left <= 0 ? 0 : static_cast<int>(left < rows_per_cta ? left : rows_per_cta);
    return {q, out, int64_t{n_heads} * head_dim, s.q_begin, s.cached_before, row0, rows, first_head(x),
            attn_heads_per_cta(group()), head_dim};
  }
  // Flash-decode: the first partial of query j of CTA (x, seq).
  PIO_HD float* partial(int x, int seq, int j) const {
    return partials + ((int64_t{seq} * n_heads + first_head(x) + j) * max_splits) * attn_partial_floats(head_dim);
  }
};

// One segment_attention call as the kernel sees it: CTA (head, chunk, segment) takes the rows
// [bounds[segment] + chunk · kAttnMaxQueries, + kAttnMaxQueries) of the segment that lie in
// [query_begin, query_end).
struct SegmentAttentionGrid {
  const float* q;
  const float* k;
  const float* v;
  float* out;
  int64_t row_stride;
  int64_t out_stride;
  int head_dim;
  const int64_t* bounds;
  float scale;
  int64_t query_begin;
  int64_t query_end;

  PIO_HD SegmentKv kv(int head, int segment) const {
    return {k, v, row_stride, bounds[segment], int64_t{head} * head_dim};
  }
  PIO_HD SegmentQueries queries(int head, int64_t chunk, int segment) const {
    const int64_t begin = bounds[segment], end = bounds[segment + 1];
    int64_t lo = begin + chunk * kAttnMaxQueries, hi = lo + kAttnMaxQueries;
    lo = lo > query_begin ? lo : query_begin;
    hi = hi < end ? hi : end;
    hi = hi < query_end ? hi : query_end;
    return {q, out, row_stride, out_stride, lo, static_cast<int>(hi > lo ? hi - lo : 0), int64_t{head} * head_dim,
            end - begin};
  }
};

// The kernels' bodies: CTA (x, y, z) of each grid, run by every thread of the CTA (DeviceCta) or
// by the CPU tests (HostCta). `smem` is attn_smem_floats(head_dim) floats of shared memory.

// Prefill: grid (head blocks, row blocks of rows_per_cta rows, sequences).
template <class Cta>
PIO_HD void paged_prefill_cta(const Cta& cta, const PagedAttentionGrid& g, int rows_per_cta, int x, int64_t y, int z,
                              float* smem) {
  const PagedQueries qs = g.queries(x, y, z, rows_per_cta);
  if (qs.rows == 0) return;
  attend_rows(cta, g.kv(x, z), qs, g.head_dim, g.scale, attn_smem(smem, g.head_dim));
}

// Flash-decode, every sequence with at most one query: grid (splits, head blocks, sequences).
template <class Cta>
PIO_HD void paged_decode_split_cta(const Cta& cta, const PagedAttentionGrid& g, int64_t split, int x, int z,
                                   float* smem) {
  const PagedQueries qs = g.queries(x, 0, z, 1);
  if (qs.rows == 0 || split >= attn_splits(qs.context(0))) return;
  attend_one_split(cta, g.kv(x, z), qs, g.head_dim, g.scale, split, attn_smem(smem, g.head_dim),
                   [&](int j) { return g.partial(x, z, j); });
}

// Flash-decode's combine: grid (query heads, sequences), thread d of head_dim.
PIO_HD void paged_decode_combine_thread(const PagedAttentionGrid& g, int head, int z, int d) {
  const DeviceSequence& s = g.seqs[z];
  if (s.n_queries == 0) return;
  const float* partials =
      g.partials + (int64_t{z} * g.n_heads + head) * g.max_splits * attn_partial_floats(g.head_dim);
  g.out[s.q_begin * g.n_heads * g.head_dim + int64_t{head} * g.head_dim + d] =
      combine_partials(partials, attn_splits(s.cached_before + 1), g.head_dim, d);
}

// Segment attention: grid (heads, chunks of kAttnMaxQueries rows, segments).
template <class Cta>
PIO_HD void segment_cta(const Cta& cta, const SegmentAttentionGrid& g, int head, int64_t chunk, int segment,
                        float* smem) {
  const SegmentQueries qs = g.queries(head, chunk, segment);
  if (qs.rows == 0) return;
  attend_rows(cta, g.kv(head, segment), qs, g.head_dim, g.scale, attn_smem(smem, g.head_dim));
}

}  // namespace pio::cuda
