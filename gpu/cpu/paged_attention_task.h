// The body of paged_attention (paged_attention.h): one task's row block over the KV tiles,
// generic over the vector width of its multiply-add kernels. Included only by
// paged_attention.cpp (AVX2, 8 lanes) and paged_attention_avx512.cpp (16 lanes), each compiled
// with -ffp-contract=off (the segment attention of the vision encoder, segment_attention_task.h,
// reuses its micro-kernels there); everything below the declarations is in an anonymous namespace, so
// each file gets its own copy built for its instruction set.
//
// The width never changes a result: a score's lane is its KV slot and an output's lane its
// dimension, each one fused multiply-add chain in a fixed order (paged_attention.h), so both
// widths give the same bits; the softmax is 8-lane code in both.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <span>

#include "gpu/cpu/kv_lanes.h"
#include "gpu/cpu/kv_rows.h"
#include "gpu/cpu/paged_attention.h"
#include "gpu/cpu/vector_exp.h"
#include "gpu/cpu/weight_access.h"

namespace pio::cpu {

// Up to kAttentionRowBlock query rows of one sequence.
struct AttentionRowBlock {
  size_t seq;
  int64_t row0;
};

// What every task of one paged_attention call shares.
struct AttentionTaskArgs {
  const float* q;
  int group;  // query heads per KV head
  const PagedKvLayer* kv;
  std::span<const AttentionSequence> seqs;
  std::span<const AttentionRowBlock> blocks;
  float scale;
  AttentionScratch* scratch;
  int64_t max_queries;  // kAttentionRowBlock * group
  float* out;
};

// Task t: row block t / kv_heads, KV head t % kv_heads; worker indexes the scratch.
void attention_task_avx2(const AttentionTaskArgs& a, int64_t task, int worker);
// The same with 16-lane kernels; only on CPUs with AVX-512 F.
void attention_task_avx512(const AttentionTaskArgs& a, int64_t task, int worker);

namespace {

constexpr int T = kAttentionTile;
constexpr int kMr = 4;  // queries per micro-kernel call (register blocking)
static_assert(T % 16 == 0);
// Every loop over the R queries or W vectors of a micro-kernel is unrolled, so that the R x W
// accumulators live in registers.
#define PIO_UNROLL _Pragma("GCC unroll 16")

float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// Where the rows of slots [t0, t0 + n) of KV head kvh lie in `base` (kv.k or kv.v): rows[i] for
// slot t0 + i. A head's rows of one block are one run (gpu/kv_layout.h), read as one stream; in
// decode they come from memory (the weights streamed since they were written pushed them out of
// the caches), so each run asks for the next one, up to slot `end`, meanwhile.
inline void tile_rows(const PagedKvLayer& kv, const void* base, const int32_t* table, int kvh, int64_t t0, int64_t n,
                      int64_t end, const char** rows) {
  const int64_t row_bytes = kv.row_bytes(), bs = kv.block_size;
  const auto run_at = [&](int64_t t) {
    return static_cast<const char*>(base) + kv.row_offset(int64_t{table[t / bs]} * bs + t % bs, kvh);
  };
  for (int64_t i = 0; i < n;) {
    const int64_t t = t0 + i, run = std::min(bs - t % bs, n - i);
    if (t + run < end) {
      const char* next = run_at(t + run);
      const int64_t bytes = std::min(bs, end - t - run) * row_bytes;
      for (int64_t b = 0; b < bytes; b += 64) _mm_prefetch(next + b, _MM_HINT_T1);
    }
    const char* first = run_at(t);
    for (int64_t r = 0; r < run; ++r) rows[i + r] = first + r * row_bytes;
    i += run;
  }
}

// The n rows as float rows of head_dim, as load_kv_row reads them.
inline void load_rows(const PagedKvLayer& kv, const char* const* rows, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) load_kv_row(kv.dtype, rows[i], kv.head_dim, out + i * kv.head_dim);
}

// kt[d * T + t] = element d of rows[t] for t < n, 0 for n <= t < cols (a multiple of 8): each
// 8 x 8 block converted and transposed in registers.
template <KvDType D>
void keys_transposed(const char* const* rows, int64_t n, int64_t cols, int hd, float* kt) {
  int d = 0;
  for (; d + 8 <= hd; d += 8)
    for (int64_t t = 0; t < cols; t += 8) {
      __m256 r[8], u[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) r[i] = t + i < n ? kv_load8<D>(rows[t + i], d, hd) : _mm256_setzero_ps();
#pragma GCC unroll 8
      for (int i = 0; i < 8; i += 2) {
        u[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        u[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
      }
#pragma GCC unroll 8
      for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(u[i], u[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(u[i], u[i + 2], 0xee);
        r[i + 2] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0xee);
      }
#pragma GCC unroll 8
      for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(kt + (d + i) * T + t, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(kt + (d + i + 4) * T + t, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
      }
    }
  for (; d < hd; ++d)
    for (int64_t t = 0; t < cols; ++t) kt[d * T + t] = t < n ? kv_load1<D>(rows[t], d, hd) : 0.0f;
}

inline void load_keys_transposed(KvDType dtype, const char* const* rows, int64_t n, int64_t cols, int hd, float* kt) {
  switch (dtype) {
    case KvDType::F32: return keys_transposed<KvDType::F32>(rows, n, cols, hd, kt);
    case KvDType::BF16: return keys_transposed<KvDType::BF16>(rows, n, cols, hd, kt);
    case KvDType::F16: return keys_transposed<KvDType::F16>(rows, n, cols, hd, kt);
    case KvDType::Q8: return keys_transposed<KvDType::Q8>(rows, n, cols, hd, kt);
  }
}

// s[r * T + c] = q_r · k_c for the W·L slots from c: one FMA chain over d from 0 per score.
template <class S, int R, int W>
void scores_at(const float* const* q, const float* kt, int hd, int64_t c, float* s) {
  typename S::V a[R][W];
  PIO_UNROLL for (int r = 0; r < R; ++r)
    PIO_UNROLL for (int w = 0; w < W; ++w) a[r][w] = S::zero();
  for (int d = 0; d < hd; ++d) {
    typename S::V k[W];
    PIO_UNROLL for (int w = 0; w < W; ++w) k[w] = S::load(kt + d * T + c + S::L * w);
    PIO_UNROLL for (int r = 0; r < R; ++r) {
      const typename S::V qb = S::broadcast(q[r] + d);
      PIO_UNROLL for (int w = 0; w < W; ++w) a[r][w] = S::fma(qb, k[w], a[r][w]);
    }
  }
  PIO_UNROLL for (int r = 0; r < R; ++r)
    PIO_UNROLL for (int w = 0; w < W; ++w) S::store(s + r * T + c + S::L * w, a[r][w]);
}

// o_r[d] = o_r[d]·α_r, then + p_r[t]·v[t][d] for t < n_r in slot order (one FMA each), for the
// W·L values from d.
template <class S, int R, int W>
void values_at(float* const* o, const float* alpha, const float* const* p, const int64_t* n, const float* v,
               int hd, int d) {
  int64_t common = n[0];
  PIO_UNROLL for (int r = 1; r < R; ++r) common = std::min(common, n[r]);
  typename S::V a[R][W];
  PIO_UNROLL for (int r = 0; r < R; ++r)
    PIO_UNROLL for (int w = 0; w < W; ++w) a[r][w] = S::mul(S::load(o[r] + d + S::L * w), S::set1(alpha[r]));
  for (int64_t t = 0; t < common; ++t) {
    typename S::V vt[W];
    PIO_UNROLL for (int w = 0; w < W; ++w) vt[w] = S::load(v + t * hd + d + S::L * w);
    PIO_UNROLL for (int r = 0; r < R; ++r) {
      const typename S::V pb = S::broadcast(p[r] + t);
      PIO_UNROLL for (int w = 0; w < W; ++w) a[r][w] = S::fma(pb, vt[w], a[r][w]);
    }
  }
  PIO_UNROLL for (int r = 0; r < R; ++r)  // the queries that see more of this tile (the causal diagonal)
    for (int64_t t = common; t < n[r]; ++t)
      PIO_UNROLL for (int w = 0; w < W; ++w)
        a[r][w] = S::fma(S::broadcast(p[r] + t), S::load(v + t * hd + d + S::L * w), a[r][w]);
  PIO_UNROLL for (int r = 0; r < R; ++r)
    PIO_UNROLL for (int w = 0; w < W; ++w) S::store(o[r] + d + S::L * w, a[r][w]);
}

// One micro-kernel step for R queries: their scores over the tile's first `cols` slots (a
// multiple of S::L), or their outputs' update from the tile's V rows (a head_dim tail in scalar
// FMAs, which round as the vector lanes do). The widest blocks first: S::kMaxVecs vectors.
template <class S, int R>
void tile_scores(const float* const* q, const float* kt, int hd, int64_t cols, float* s) {
  int64_t c = 0;
  for (; c + S::kMaxVecs * S::L <= cols; c += S::kMaxVecs * S::L) scores_at<S, R, S::kMaxVecs>(q, kt, hd, c, s);
  if constexpr (S::kMaxVecs > 2)
    for (; c + 2 * S::L <= cols; c += 2 * S::L) scores_at<S, R, 2>(q, kt, hd, c, s);
  for (; c < cols; c += S::L) scores_at<S, R, 1>(q, kt, hd, c, s);
}

template <class S, int R>
void tile_values(float* const* o, const float* alpha, const float* const* p, const int64_t* n, const float* v, int hd) {
  int d = 0;
  for (; d + S::kMaxVecs * S::L <= hd; d += S::kMaxVecs * S::L) values_at<S, R, S::kMaxVecs>(o, alpha, p, n, v, hd, d);
  if constexpr (S::kMaxVecs > 2)
    for (; d + 2 * S::L <= hd; d += 2 * S::L) values_at<S, R, 2>(o, alpha, p, n, v, hd, d);
  for (; d + S::L <= hd; d += S::L) values_at<S, R, 1>(o, alpha, p, n, v, hd, d);
  for (; d < hd; ++d)
    for (int r = 0; r < R; ++r) {
      float a = o[r][d] * alpha[r];
      for (int64_t t = 0; t < n[r]; ++t) a = std::fma(p[r][t], v[t * hd + d], a);
      o[r][d] = a;
    }
}

// The online-softmax step of one query over one tile whose first n slots it sees: its scores
// s[0, n) become p = exp(score·scale - m') in place (0 beyond n), m and l are updated, and the
// factor α = exp(m - m') that its output must be multiplied by is returned.
inline float softmax_tile(float* s, int64_t n, float scale, float& m, float& l) {
  const int64_t chunks = (n + 7) / 8;
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
  __m256 vmax = ninf;
  for (int64_t c = 0; c < chunks; ++c) {
    const __m256 seen = _mm256_cmp_ps(_mm256_add_ps(lane, _mm256_set1_ps(static_cast<float>(8 * c))),
                                      _mm256_set1_ps(static_cast<float>(n)), _CMP_LT_OQ);
    const __m256 x = _mm256_blendv_ps(ninf, _mm256_mul_ps(_mm256_loadu_ps(s + 8 * c), _mm256_set1_ps(scale)), seen);
    _mm256_storeu_ps(s + 8 * c, x);
    vmax = _mm256_max_ps(vmax, x);
  }
  const float m_new = std::max(m, hmax(vmax));
  const float alpha = _mm256_cvtss_f32(exp8(_mm256_set1_ps(m - m_new)));
  __m256 sum = _mm256_setzero_ps();
  for (int64_t c = 0; c < chunks; ++c) {  // chunks past n would add +0: leaving them out is the same sum
    const __m256 p = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + 8 * c), _mm256_set1_ps(m_new)));
    _mm256_storeu_ps(s + 8 * c, p);
    sum = _mm256_add_ps(sum, p);
  }
  l = l * alpha + hsum(sum);
  m = m_new;
  return alpha;
}

// Calls f.template operator()<R>(j, R) for the queries [j0, nv) in runs of at most kMr.
template <class F>
void for_each_run(int64_t j0, int64_t nv, F&& f) {
  for (int64_t j = j0; j < nv; j += kMr) {
    switch (std::min<int64_t>(kMr, nv - j)) {
      case 1: f.template operator()<1>(j); break;
      case 2: f.template operator()<2>(j); break;
      case 3: f.template operator()<3>(j); break;
      default: f.template operator()<4>(j); break;
    }
  }
}

template <class S>
void run_attention_task(const AttentionTaskArgs& a, int64_t task, int worker) {
  const PagedKvLayer& kv = *a.kv;
  const int group = a.group, hd = kv.head_dim;
  const int64_t q_stride = int64_t{kv.kv_heads} * group * hd, max_queries = a.max_queries;
  const AttentionRowBlock& b = a.blocks[static_cast<size_t>(task / kv.kv_heads)];
  const int kvh = static_cast<int>(task % kv.kv_heads);
  const AttentionSequence& s = a.seqs[b.seq];
  const int64_t rows = std::min<int64_t>(kAttentionRowBlock, s.n_queries - b.row0), nv = rows * group;
  const int64_t first = s.cached_before + b.row0;  // the last slot the block's first row sees
  float* kt = (*a.scratch)[static_cast<size_t>(worker)].data();
  float* vrows = kt + T * hd;
  float* sc = vrows + T * hd;
  float* o = sc + max_queries * T;
  float* m = o + max_queries * hd;
  float* l = m + max_queries;
  float* alpha = l + max_queries;
  const char* row_ptrs[T];  // the tile's K rows, then its V rows, where they lie in the cache
  // Query j: row b.row0 + j / group of the sequence, head kvh * group + j % group.
  const auto offset = [&](int64_t j) {
    return (s.q_begin + b.row0 + j / group) * q_stride + (int64_t{kvh} * group + j % group) * hd;
  };
  std::fill(m, m + nv, -std::numeric_limits<float>::infinity());
  std::fill(l, l + nv, 0.0f);
  std::fill(o, o + nv * hd, 0.0f);
  for (int64_t t0 = 0; t0 <= first + rows - 1; t0 += T) {
    const int64_t n = std::min<int64_t>(T, first + rows - t0), cols = (n + S::L - 1) / S::L * S::L;
    tile_rows(kv, kv.k, s.block_table, kvh, t0, n, first + rows, row_ptrs);
    load_keys_transposed(kv.dtype, row_ptrs, n, cols, hd, kt);
    tile_rows(kv, kv.v, s.block_table, kvh, t0, n, first + rows, row_ptrs);
    load_rows(kv, row_ptrs, n, vrows);
    const int64_t j0 = std::max<int64_t>(0, t0 - first) * group;  // the queries that see slot t0
    const auto seen = [&](int64_t j) { return std::min<int64_t>(T, first + j / group + 1 - t0); };
    for_each_run(j0, nv, [&]<int R>(int64_t j) {
      const float* qs[R];
      for (int r = 0; r < R; ++r) qs[r] = a.q + offset(j + r);
      tile_scores<S, R>(qs, kt, hd, cols, sc + j * T);
    });
    for (int64_t j = j0; j < nv; ++j) alpha[j] = softmax_tile(sc + j * T, seen(j), a.scale, m[j], l[j]);
    for_each_run(j0, nv, [&]<int R>(int64_t j) {
      float* os[R];
      const float* ps[R];
      int64_t ns[R];
      for (int r = 0; r < R; ++r) os[r] = o + (j + r) * hd, ps[r] = sc + (j + r) * T, ns[r] = seen(j + r);
      tile_values<S, R>(os, alpha + j, ps, ns, vrows, hd);
    });
  }
  for (int64_t j = 0; j < nv; ++j) {
    const float inv = 1.0f / l[j];
    for (int d = 0; d < hd; ++d) a.out[offset(j) + d] = o[j * hd + d] * inv;
  }
}

#undef PIO_UNROLL

}  // namespace
}  // namespace pio::cpu
