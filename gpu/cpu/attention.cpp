#include "gpu/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "gpu/cpu/matmul.h"
#include "gpu/cpu/vector_ops.h"

namespace pio::cpu {
namespace {

void ensure_scratch(ThreadPool& pool, ScoreScratch& scratch, int64_t len) {
  scratch.resize(static_cast<size_t>(pool.size()));
  for (auto& s : scratch)
    if (s.size() < static_cast<size_t>(len)) s.resize(static_cast<size_t>(len));
}

// scores = softmax(scores * scale), in place.
void softmax_scaled(float* scores, int64_t n, float scale) {
  float max_score = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < n; ++t) max_score = std::max(max_score, scores[t]);
  float sum = 0.0f;
  for (int64_t t = 0; t < n; ++t) {
    scores[t] = std::exp((scores[t] - max_score) * scale);
    sum += scores[t];
  }
  const float inv = 1.0f / sum;
  for (int64_t t = 0; t < n; ++t) scores[t] *= inv;
}

// softmax(scores) · V for one query head; key_row(t) / value_row(t) give the t-th context row.
// The whole context in one pass keeps the reduction order fixed (see attention.h). A faster
// version that splits the context (online softmax over KV tiles, flash-decoding) must cut it
// at fixed positions (multiples of one tile size from slot 0) and combine the tiles in order,
// never where a prefill chunk or a cache block happens to end.
template <class KeyRow, class ValueRow>
void attend(const float* q, int64_t ctx, int head_dim, float scale, float* scores, KeyRow key_row,
            ValueRow value_row, float* out) {
  for (int64_t t = 0; t < ctx; ++t) scores[t] = dot(q, key_row(t), head_dim);
  softmax_scaled(scores, ctx, scale);
  std::memset(out, 0, sizeof(float) * static_cast<size_t>(head_dim));
  for (int64_t t = 0; t < ctx; ++t) axpy(scores[t], value_row(t), out, head_dim);
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

// Full attention over whole images is long (thousands of rows), so it runs as matrix products
// on the matmul kernel's FMA tiles rather than one dot product per score: each (segment, head)
// has its K rows and Vᵀ packed contiguously once, then each task takes a chunk of query rows and
// computes S = Q·Kᵀ, softmax(S · scale), O = S·V. A query row's arithmetic is the same whatever
// chunk holds it, so the queries may be split over calls.
void pack_segments(ThreadPool& pool, SegmentScratch& scratch, const float* k, const float* v, int64_t row_stride,
                   int heads, int head_dim, std::span<const int64_t> segment_bounds) {
  scratch.bounds.assign(segment_bounds.begin(), segment_bounds.end());
  scratch.heads = heads;
  scratch.head_dim = head_dim;
  if (segment_bounds.size() < 2) return;
  const auto segments = static_cast<int64_t>(segment_bounds.size()) - 1;
  const int64_t rows = segment_bounds.back() - segment_bounds.front(), hd = head_dim;
  if (scratch.packed.size() < static_cast<size_t>(2 * rows * heads * hd))
    scratch.packed.resize(static_cast<size_t>(2 * rows * heads * hd));
  pool.run(segments * heads, [&](int64_t task, int) {
    const int64_t s = task / heads, h = task % heads, begin = segment_bounds[s];
    const int64_t len = segment_bounds[s + 1] - begin;
    float* kp = scratch.packed_at(s, h);
    float* vt = kp + len * hd;
    for (int64_t t = 0; t < len; ++t) {
      const int64_t src = (begin + t) * row_stride + h * hd;
      std::memcpy(kp + t * hd, k + src, sizeof(float) * static_cast<size_t>(hd));
      for (int64_t d = 0; d < hd; ++d) vt[d * len + t] = v[src + d];
    }
  });
}

float* SegmentScratch::packed_at(int64_t segment, int64_t head) {
  const auto s = static_cast<size_t>(segment);
  const int64_t len = bounds[s + 1] - bounds[s];
  return packed.data() + 2 * head_dim * ((bounds[s] - bounds.front()) * heads + head * len);
}

void segment_attention(ThreadPool& pool, SegmentScratch& scratch, const float* q, int64_t row_stride, float scale,
                       int64_t query_begin, int64_t query_end, float* out, int64_t out_stride) {
  const std::vector<int64_t>& bounds = scratch.bounds;
  if (bounds.size() < 2) return;
  query_begin = std::max(query_begin, bounds.front());
  query_end = std::min(query_end, bounds.back());
  if (query_begin >= query_end) return;
  constexpr int64_t kChunk = 64;  // query rows per task (chunks start at fixed offsets in each segment)
  const auto segments = static_cast<int64_t>(bounds.size()) - 1;
  const int heads = scratch.heads;
  const int64_t hd = scratch.head_dim;
  int64_t longest = 0;
  for (int64_t s = 0; s < segments; ++s) longest = std::max(longest, bounds[s + 1] - bounds[s]);
  scratch.per_worker.resize(static_cast<size_t>(pool.size()));
  for (auto& w : scratch.per_worker)
    if (w.size() < static_cast<size_t>(kChunk * (2 * hd + longest))) w.resize(static_cast<size_t>(kChunk * (2 * hd + longest)));

  // Tasks: for each segment and head, its chunks that meet [query_begin, query_end).
  std::vector<int64_t> first_chunk(static_cast<size_t>(segments), 0), first_task(static_cast<size_t>(segments) + 1, 0);
  for (int64_t s = 0; s < segments; ++s) {
    const auto i = static_cast<size_t>(s);
    const int64_t lo = std::max(query_begin, bounds[i]), hi = std::min(query_end, bounds[i + 1]);
    const int64_t chunks = lo < hi ? (hi - 1 - bounds[i]) / kChunk - (lo - bounds[i]) / kChunk + 1 : 0;
    first_chunk[i] = lo < hi ? (lo - bounds[i]) / kChunk : 0;
    first_task[i + 1] = first_task[i] + chunks * heads;
  }
  pool.run(first_task.back(), [&](int64_t task, int worker) {
    const auto s = static_cast<size_t>(std::upper_bound(first_task.begin(), first_task.end(), task) - first_task.begin() - 1);
    const int64_t begin = bounds[s], len = bounds[s + 1] - begin;
    const int64_t local = task - first_task[s];
    const int64_t h = local % heads, chunk0 = begin + (first_chunk[s] + local / heads) * kChunk;
    const int64_t r0 = std::max(chunk0, query_begin);
    const int64_t n = std::min({chunk0 + kChunk, begin + len, query_end}) - r0;
    float* qc = scratch.per_worker[static_cast<size_t>(worker)].data();
    float* oc = qc + kChunk * hd;
    float* scores = oc + kChunk * hd;
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(qc + i * hd, q + (r0 + i) * row_stride + h * hd, sizeof(float) * static_cast<size_t>(hd));
    const float* kp = scratch.packed_at(static_cast<int64_t>(s), h);
    matmul_block_avx2({qc, nullptr, n, hd, {DType::F32, kp, len, hd}, {}, scores}, 0, len);
    for (int64_t i = 0; i < n; ++i) softmax_scaled(scores + i * len, len, scale);
    matmul_block_avx2({scores, nullptr, n, len, {DType::F32, kp + len * hd, hd, len}, {}, oc}, 0, hd);
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(out + (r0 + i) * out_stride + h * hd, oc + i * hd, sizeof(float) * static_cast<size_t>(hd));
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
