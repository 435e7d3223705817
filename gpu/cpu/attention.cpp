#include "gpu/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "gpu/cpu/vector_ops.h"

namespace pio::cpu {
namespace {

void ensure_scratch(ThreadPool& pool, ScoreScratch& scratch, int64_t len) {
  scratch.resize(static_cast<size_t>(pool.size()));
  for (auto& s : scratch)
    if (s.size() < static_cast<size_t>(len)) s.resize(static_cast<size_t>(len));
}

// softmax(scores) · V for one query head; key_row(t) / value_row(t) give the t-th context row.
template <class KeyRow, class ValueRow>
void attend(const float* q, int64_t ctx, int head_dim, float scale, float* scores, KeyRow key_row,
            ValueRow value_row, float* out) {
  float max_score = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < ctx; ++t) {
    scores[t] = dot(q, key_row(t), head_dim) * scale;
    max_score = std::max(max_score, scores[t]);
  }
  float sum = 0.0f;
  for (int64_t t = 0; t < ctx; ++t) {
    scores[t] = std::exp(scores[t] - max_score);
    sum += scores[t];
  }
  std::memset(out, 0, sizeof(float) * static_cast<size_t>(head_dim));
  const float inv = 1.0f / sum;
  for (int64_t t = 0; t < ctx; ++t) axpy(scores[t] * inv, value_row(t), out, head_dim);
}

}  // namespace

void paged_attention(ThreadPool& pool, ScoreScratch& scratch, const float* q, int n_heads, const PagedKvLayer& kv,
                     std::span<const AttentionSequence> seqs, float scale, float* out) {
  int64_t total_queries = 0, longest = 0;
  for (const auto& s : seqs) {
    total_queries += s.n_queries;
    longest = std::max(longest, s.cached_before + s.n_queries);
  }
  ensure_scratch(pool, scratch, longest);

  const int head_dim = kv.head_dim;
  const int64_t q_stride = static_cast<int64_t>(n_heads) * head_dim;
  const int64_t kv_stride = static_cast<int64_t>(kv.kv_heads) * head_dim;
  const int group = n_heads / kv.kv_heads;
  pool.run(total_queries * n_heads, [&](int64_t task, int worker) {
    const int64_t query = task / n_heads;
    const int head = static_cast<int>(task % n_heads);
    size_t seq = 0;
    int64_t i = query;  // batches hold few sequences: a linear walk finds this query's one
    while (i >= seqs[seq].n_queries) i -= seqs[seq++].n_queries;
    const AttentionSequence& s = seqs[seq];
    const int64_t row = s.q_begin + i;
    const int64_t head_offset = static_cast<int64_t>(head / group) * head_dim;
    auto slot_row = [&](const float* base, int64_t t) {
      const int64_t block = s.block_table[t / kv.block_size];
      return base + (block * kv.block_size + t % kv.block_size) * kv_stride + head_offset;
    };
    attend(q + row * q_stride + static_cast<int64_t>(head) * head_dim, s.cached_before + i + 1, head_dim, scale,
           scratch[static_cast<size_t>(worker)].data(), [&](int64_t t) { return slot_row(kv.k, t); },
           [&](int64_t t) { return slot_row(kv.v, t); },
           out + row * q_stride + static_cast<int64_t>(head) * head_dim);
  });
}

void segment_attention(ThreadPool& pool, ScoreScratch& scratch, const float* q, const float* k, const float* v,
                       int64_t row_stride, int heads, int head_dim, std::span<const int64_t> segment_bounds,
                       float scale, float* out, int64_t out_stride) {
  if (segment_bounds.size() < 2) return;
  int64_t longest = 0;
  for (size_t s = 1; s < segment_bounds.size(); ++s)
    longest = std::max(longest, segment_bounds[s] - segment_bounds[s - 1]);
  ensure_scratch(pool, scratch, longest);
  const int64_t rows = segment_bounds.back() - segment_bounds.front();
  pool.run(rows * heads, [&](int64_t task, int worker) {
    const int64_t row = segment_bounds.front() + task / heads;
    const int64_t head_offset = (task % heads) * head_dim;
    const auto it = std::upper_bound(segment_bounds.begin(), segment_bounds.end(), row) - 1;
    const int64_t begin = *it, end = *(it + 1);
    attend(q + row * row_stride + head_offset, end - begin, head_dim, scale,
           scratch[static_cast<size_t>(worker)].data(),
           [&](int64_t t) { return k + (begin + t) * row_stride + head_offset; },
           [&](int64_t t) { return v + (begin + t) * row_stride + head_offset; },
           out + row * out_stride + head_offset);
  });
}

void store_kv(const PagedKvLayer& kv, const int32_t* block_table, int64_t first_slot, int64_t n, const float* k,
              const float* v) {
  const int64_t stride = static_cast<int64_t>(kv.kv_heads) * kv.head_dim;
  const size_t bytes = sizeof(float) * static_cast<size_t>(stride);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t slot = first_slot + i;
    const int64_t row = static_cast<int64_t>(block_table[slot / kv.block_size]) * kv.block_size + slot % kv.block_size;
    std::memcpy(kv.k + row * stride, k + i * stride, bytes);
    std::memcpy(kv.v + row * stride, v + i * stride, bytes);
  }
}

}  // namespace pio::cpu
