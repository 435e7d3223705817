#include "gpu/cpu/attention.h"

#include <algorithm>
#include <cstring>

#include "gpu/cpu/cpu_features.h"
#include "gpu/cpu/segment_attention_task.h"

namespace pio::cpu {
namespace {

constexpr int64_t kTile = kAttentionTile;

int64_t tiles_of(int64_t len) { return (len + kTile - 1) / kTile; }

}  // namespace

// Whole images are long (thousands of rows) and every query reads all of its segment's keys, so
// the K and V tiles are laid out once per block here, in the order the kernel walks them.
void pack_segments(ThreadPool& pool, SegmentScratch& scratch, const float* k, const float* v, int64_t row_stride,
                   int heads, int head_dim, std::span<const int64_t> segment_bounds) {
  scratch.bounds.assign(segment_bounds.begin(), segment_bounds.end());
  scratch.heads = heads;
  scratch.head_dim = head_dim;
  if (segment_bounds.size() < 2) return;
  const auto segments = static_cast<int64_t>(segment_bounds.size()) - 1;
  const int64_t hd = head_dim;
  int64_t all_tiles = 0;
  for (int64_t s = 0; s < segments; ++s) all_tiles += tiles_of(segment_bounds[s + 1] - segment_bounds[s]) * heads;
  const auto need = static_cast<size_t>(all_tiles * 2 * kTile * hd);
  if (scratch.packed.size() < need) scratch.packed.resize(need);
  pool.run(segments * heads, [&](int64_t task, int) {
    const int64_t s = task / heads, h = task % heads, begin = segment_bounds[s];
    const int64_t len = segment_bounds[s + 1] - begin;
    float* tiles = scratch.packed.data() + scratch.packed_offset(s, h);
    std::memset(tiles, 0, sizeof(float) * static_cast<size_t>(tiles_of(len) * 2 * kTile * hd));
    for (int64_t t = 0; t < len; ++t) {
      const int64_t src = (begin + t) * row_stride + h * hd;
      float* kt = tiles + (t / kTile) * 2 * kTile * hd;
      float* vrow = kt + kTile * hd + (t % kTile) * hd;
      for (int64_t d = 0; d < hd; ++d) kt[d * kTile + t % kTile] = k[src + d];
      std::memcpy(vrow, v + src, sizeof(float) * static_cast<size_t>(hd));
    }
  });
}

int64_t SegmentScratch::packed_offset(int64_t segment, int64_t head) const {
  int64_t tiles = 0;  // of the segments before, all heads
  for (int64_t s = 0; s < segment; ++s) tiles += tiles_of(bounds[s + 1] - bounds[s]) * heads;
  tiles += head * tiles_of(bounds[segment + 1] - bounds[segment]);
  return tiles * 2 * kTile * head_dim;
}

void segment_attention(ThreadPool& pool, SegmentScratch& scratch, const float* q, int64_t row_stride, float scale,
                       int64_t query_begin, int64_t query_end, float* out, int64_t out_stride, AttentionLanes lanes) {
  const std::vector<int64_t>& bounds = scratch.bounds;
  if (bounds.size() < 2) return;
  std::vector<SegmentQueryBlock> blocks;
  for (size_t s = 0; s + 1 < bounds.size(); ++s)
    for (int64_t r = std::max(query_begin, bounds[s]); r < std::min(query_end, bounds[s + 1]); r += kAttentionRowBlock)
      blocks.push_back({static_cast<int64_t>(s), r, std::min({r + kAttentionRowBlock, query_end, bounds[s + 1]})});
  const auto need = static_cast<size_t>(kAttentionRowBlock * (kTile + scratch.head_dim + 3));
  scratch.per_worker.resize(static_cast<size_t>(pool.size()));
  for (auto& w : scratch.per_worker)
    if (w.size() < need) w.resize(need);
  const SegmentTaskArgs args{q, row_stride, scale, &scratch, blocks, out, out_stride};
  const bool wide = lanes == AttentionLanes::Widest && has_avx512f();
  pool.run(static_cast<int64_t>(blocks.size()) * scratch.heads, [&](int64_t task, int worker) {
    if (wide) segment_task_avx512(args, task, worker);
    else segment_task_avx2(args, task, worker);
  });
}

}  // namespace pio::cpu
