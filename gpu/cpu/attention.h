// Full attention within segments (the vision encoder's per-image blocks); the text decoder's
// causal attention over the paged KV cache is in paged_attention.h.
#pragma once

#include <span>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/thread_pool.h"

namespace pio::cpu {

// segment_attention's packed K and Vᵀ (kept between pack_segments and the attention calls) and
// per-worker buffers; they only grow.
struct SegmentScratch {
  std::vector<int64_t> bounds;                 // the segments packed
  int heads = 0;
  int64_t head_dim = 0;
  std::vector<float> packed;                   // every (segment, head)'s K rows then Vᵀ, contiguous
  std::vector<std::vector<float>> per_worker;  // a query chunk, its scores and its output
  float* packed_at(int64_t segment, int64_t head);
};

// Packs each segment's K rows and Vᵀ (k, v: [rows, heads * head_dim], row stride row_stride).
void pack_segments(ThreadPool& pool, SegmentScratch& scratch, const float* k, const float* v, int64_t row_stride,
                   int heads, int head_dim, std::span<const int64_t> segment_bounds);
// Full attention within each packed segment for the query rows [query_begin, query_end).
void segment_attention(ThreadPool& pool, SegmentScratch& scratch, const float* q, int64_t row_stride, float scale,
                       int64_t query_begin, int64_t query_end, float* out, int64_t out_stride);

}  // namespace pio::cpu
