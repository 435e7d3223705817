// Compiled with -ffp-contract=off (gpu/CMakeLists.txt): every fused multiply-add here is an
// explicit one, so the compiler cannot fuse a product and a sum differently in the kernels'
// instantiations for different numbers of queries, which would break batch invariance.
#include "gpu/cpu/paged_attention.h"

#include <immintrin.h>

#include <stdexcept>
#include <string>

#include "gpu/cpu/cpu_features.h"
#include "gpu/cpu/paged_attention_task.h"
#include "gpu/cpu/segment_attention_task.h"

namespace pio::cpu {
namespace {

// AVX2's 8-lane kernels: two vectors per micro-kernel row (R x 2 accumulators of the 16 ymm).
struct Avx2Lanes {
  using V = __m256;
  static constexpr int L = 8, kMaxVecs = 2;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
};

}  // namespace

void attention_task_avx2(const AttentionTaskArgs& a, int64_t task, int worker) {
  run_attention_task<Avx2Lanes>(a, task, worker);
}

void segment_task_avx2(const SegmentTaskArgs& a, int64_t task, int worker) {
  run_segment_task<Avx2Lanes>(a, task, worker);
}

void paged_attention(ThreadPool& pool, AttentionScratch& scratch, const float* q, int n_heads, const PagedKvLayer& kv,
                     std::span<const AttentionSequence> seqs, float scale, float* out, AttentionLanes lanes) {
  if (kv.kv_heads <= 0 || n_heads % kv.kv_heads != 0)
    throw std::invalid_argument("paged_attention: " + std::to_string(n_heads) + " query heads cannot share " +
                                std::to_string(kv.kv_heads) + " KV heads");
  const int group = n_heads / kv.kv_heads, hd = kv.head_dim;
  const int64_t max_queries = int64_t{kAttentionRowBlock} * group;
  std::vector<AttentionRowBlock> blocks;
  for (size_t s = 0; s < seqs.size(); ++s)
    for (int64_t r0 = 0; r0 < seqs[s].n_queries; r0 += kAttentionRowBlock) blocks.push_back({s, r0});
  // Per worker: Kᵀ and V rows (a tile each); per query: scores, output, m, l, α.
  const auto need = static_cast<size_t>(2 * kAttentionTile * hd + max_queries * (kAttentionTile + hd + 3));
  scratch.resize(static_cast<size_t>(pool.size()));
  for (auto& s : scratch)
    if (s.size() < need) s.resize(need);

  const AttentionTaskArgs args{q, group, &kv, seqs, blocks, scale, &scratch, max_queries, out};
  const bool wide = lanes == AttentionLanes::Widest && has_avx512f();
  pool.run(static_cast<int64_t>(blocks.size()) * kv.kv_heads, [&](int64_t task, int worker) {
    if (wide) attention_task_avx512(args, task, worker);
    else attention_task_avx2(args, task, worker);
  });
}

}  // namespace pio::cpu
