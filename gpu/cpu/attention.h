// Full attention within segments (the vision encoder's per-image blocks); the text decoder's
// causal attention over the paged KV cache is in paged_attention.h.
#pragma once

#include <span>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/paged_attention.h"
#include "gpu/cpu/thread_pool.h"

namespace pio::cpu {

// segment_attention's packed K and V (kept between pack_segments and the attention calls) and
// per-worker buffers; they only grow.
struct SegmentScratch {
  std::vector<int64_t> bounds;  // the segments packed
  int heads = 0;
  int64_t head_dim = 0;
  // Every (segment, head)'s KV tiles of kAttentionTile rows from the segment's first: Kᵀ
  // [head_dim][kAttentionTile] then the V rows [kAttentionTile][head_dim], zero-padded.
  std::vector<float> packed;
  std::vector<std::vector<float>> per_worker;  // a query block's scores, outputs and softmax state
  // Where (segment, head)'s first tile starts in packed.
  int64_t packed_offset(int64_t segment, int64_t head) const;
};

// Packs each segment's K and V tiles (k, v: [rows, heads * head_dim], row stride row_stride).
void pack_segments(ThreadPool& pool, SegmentScratch& scratch, const float* k, const float* v, int64_t row_stride,
                   int heads, int head_dim, std::span<const int64_t> segment_bounds);
// Full attention within each packed segment for the query rows [query_begin, query_end), q
// with row stride row_stride, out with out_stride; each task takes up to kAttentionRowBlock
// query rows of one segment and one head over the segment's KV tiles in order, with the paged
// attention's blocked kernels and online softmax (paged_attention.h, without its causal mask).
// A query row's bits depend only on its q row and its segment's K and V: not on how the queries
// are split over calls or tasks, on the thread or on the lanes (both give the same bits).
void segment_attention(ThreadPool& pool, SegmentScratch& scratch, const float* q, int64_t row_stride, float scale,
                       int64_t query_begin, int64_t query_end, float* out, int64_t out_stride,
                       AttentionLanes lanes = AttentionLanes::Widest);

// The kernels' side of segment_attention (segment_attention_task.h). A task's query block: up to
// kAttentionRowBlock query rows [begin, end) inside one segment.
struct SegmentQueryBlock {
  int64_t segment;
  int64_t begin;
  int64_t end;
};

// What every task of one segment_attention call shares.
struct SegmentTaskArgs {
  const float* q;
  int64_t row_stride;
  float scale;
  SegmentScratch* scratch;
  std::span<const SegmentQueryBlock> blocks;
  float* out;
  int64_t out_stride;
};

// Task t: query block t / heads, head t % heads; worker indexes the scratch.
void segment_task_avx2(const SegmentTaskArgs& a, int64_t task, int worker);
// The same with 16-lane kernels; only on CPUs with AVX-512 F.
void segment_task_avx512(const SegmentTaskArgs& a, int64_t task, int worker);

}  // namespace pio::cpu
