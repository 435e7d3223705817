// Attention kernels: causal over the paged KV cache (the text decoder) and full attention
// within segments (the vision encoder's per-image blocks).
#pragma once

#include <span>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/thread_pool.h"

namespace pio::cpu {

// Per-worker buffers for attention scores; grown before a call, never during one.
using ScoreScratch = std::vector<std::vector<float>>;

// Batch invariance: each (query row, head) is computed alone over its context slots
// [0, cached_before + i] in position order — its dot products, one max, one sum, then the V rows
// accumulated in that order — so its bits depend only on its q row and the cached K/V: not on
// the other queries or sequences in the call, on how the sequence's KV was prefilled (one chunk,
// many, token by token), on the block size or on the thread that runs it.
void paged_attention(ThreadPool& pool, ScoreScratch& scratch, const float* q, int n_heads, const PagedKvLayer& kv,
                     std::span<const AttentionSequence> seqs, float scale, float* out);

// Buffers of segment_attention; they only grow.
struct SegmentScratch {
  std::vector<float> packed;                 // every (segment, head)'s K rows and Vᵀ, contiguous
  std::vector<std::vector<float>> per_worker;  // a query chunk, its scores and its output
};

void segment_attention(ThreadPool& pool, SegmentScratch& scratch, const float* q, const float* k, const float* v,
                       int64_t row_stride, int heads, int head_dim, std::span<const int64_t> segment_bounds,
                       float scale, float* out, int64_t out_stride);

void store_kv(const PagedKvLayer& kv, const int32_t* block_table, int64_t first_slot, int64_t n, const float* k,
              const float* v);

}  // namespace pio::cpu
