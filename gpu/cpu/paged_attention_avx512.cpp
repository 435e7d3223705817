// paged_attention's task with 16-lane AVX-512 kernels: the same arithmetic per score and output
// as the AVX2 task (paged_attention_task.h), twice the lanes per instruction. Compiled with
// AVX-512 F and -ffp-contract=off; only called after the run-time check.
#include <immintrin.h>

#include "gpu/cpu/paged_attention_task.h"
#include "gpu/cpu/segment_attention_task.h"

namespace pio::cpu {
namespace {

// Up to four vectors per micro-kernel row: R x 4 = 16 accumulators of the 32 zmm.
struct Avx512Lanes {
  using V = __m512;
  static constexpr int L = 16, kMaxVecs = 4;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
};

}  // namespace

void attention_task_avx512(const AttentionTaskArgs& a, int64_t task, int worker) {
  run_attention_task<Avx512Lanes>(a, task, worker);
}

void segment_task_avx512(const SegmentTaskArgs& a, int64_t task, int worker) {
  run_segment_task<Avx512Lanes>(a, task, worker);
}

}  // namespace pio::cpu
