#include "gpu/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "gpu/cpu/matmul.h"

namespace pio::cpu {
namespace {

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

}  // namespace

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

}  // namespace pio::cpu
