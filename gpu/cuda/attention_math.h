// The per-thread arithmetic of the CUDA attention kernels (gpu/cuda/attention.cu): paged causal
// attention with GQA (prefill and flash-decode) and the vision encoder's segment attention, as
// `__host__ __device__` code of explicit indices. A CTA's program is a sequence of phases;
// `cta.phase(f)` calls f(thread, threads) for every thread of the CTA and then waits at a
// barrier (DeviceCta in gpu/cuda/device_cta.cuh: __syncthreads(); the CPU tests' HostCta: a loop
// over the threads), so the CPU tests run exactly the device's arithmetic over every block and
// thread (tests/gpu/test_cuda_attention_math.cpp).
//
// The arithmetic of one query (one row, one query head) depends only on its q row, its context
// length and the cached K/V, never on the other queries of its CTA, the batch or the kernel:
//  * its context [0, len) is cut into splits of kAttnSplit slots from slot 0, each split into
//    tiles of kAttnTile slots;
//  * per split, flash attention's online softmax (Dao et al. 2022) over its tiles in order, the
//    CPU kernel's steps (gpu/cpu/paged_attention.h): score = one fused multiply-add chain over
//    d = 0..head_dim-1, times scale; m' = max(m, tile max); α = e^(m - m'); p = e^(score - m');
//    l = l·α + (p summed in 8 lanes, slot t in lane t % 8, then the tree ((0+4)+(2+6))+((1+5)+(3+7)));
//    o = o·α, then one fused multiply-add per slot in slot order; e^x is the CPU's Cephes
//    polynomial (exp_cephes), so on the device too;
//  * the splits' (m, l, o) are merged in split order: M' = max(M, m), a = e^(M - M'),
//    b = e^(m - M'), L = L·a + l·b, O = O·a + o·b (the first split is taken as it is); the
//    output is O · (1 / L).
// So the flash-decode kernel (one CTA per split, then a combine) and the prefill kernel (one CTA
// walking every split) give the same bits, and a context of at most kAttnSplit slots gives the
// CPU backend's bits exactly. The segment attention is the prefill kernel without the causal
// mask (each row sees its whole segment); the CPU's segment_attention sums in another order
// (matmul tiles, std::exp), so the two agree within rounding, not bit for bit.
//
// Every product, sum and quotient goes through mul_rn / add_rn / fma_rn / div_rn (kv_math.h), so
// nvcc cannot fuse them differently from the CPU tests; do not build with --use_fast_math (it
// flushes subnormals and approximates division). Nothing here needs more than SM 6.1: float32
// arithmetic, __syncthreads() and attn_smem_floats(128) · 4 = 43,488 bytes of shared memory per
// CTA (Pascal allows 48 KB).
#pragma once

#include <cstdint>

#include "gpu/cuda/kv_math.h"

namespace pio::cuda {

constexpr int kAttnTile = 64;          // slots per tile (the CPU's kAttentionTile)
constexpr int kAttnSplit = 256;        // slots per split: the flash-decode kernel's fixed split size
constexpr int kAttnThreads = 128;      // threads per attention CTA
constexpr int kAttnMaxHeadDim = 128;   // the shared-memory tile holds kAttnTile rows of at most this
constexpr int kAttnMaxQueries = 8;     // queries (row, query head) per CTA

// e^x as the CPU's exp8 (gpu/cpu/paged_attention_task.h), value for value: Cephes' expf
// (x = n·ln2 + r, a degree-5 polynomial in r, times 2^n), 0 below -87, for -inf and for NaN.
PIO_HD float exp_cephes(float x) {
  const bool keep = x >= -87.0f;
  x = x < 88.0f ? x : 88.0f;
  x = x > -87.0f ? x : -87.0f;
  const float n = ::rintf(mul_rn(x, 1.44269504088896341f));
  float r = fma_rn(-n, 0.693359375f, x);
  r = fma_rn(-n, -2.12194440e-4f, r);
  float y = 1.9875691500e-4f;
  y = fma_rn(y, r, 1.3981999507e-3f);
  y = fma_rn(y, r, 8.3334519073e-3f);
  y = fma_rn(y, r, 4.1665795894e-2f);
  y = fma_rn(y, r, 1.6666665459e-1f);
  y = fma_rn(y, r, 5.0000001201e-1f);
  y = fma_rn(y, mul_rn(r, r), add_rn(r, 1.0f));
  const float two_n = bits_to_float(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);
  return keep ? mul_rn(y, two_n) : 0.0f;
}

// Cached K/V rows of a paged layer for one KV head, read in the cache's dtype.
struct PagedKv {
  const unsigned char* k;
  const unsigned char* v;
  PagedRows rows;
  KvDType dtype;
  int head_dim;
  int head;  // the KV head
  PIO_HD float key(int64_t slot, int d) const { return kv_load(dtype, k + rows.offset(slot, head), head_dim, d); }
  PIO_HD float value(int64_t slot, int d) const { return kv_load(dtype, v + rows.offset(slot, head), head_dim, d); }
};

// A segment's K/V rows for one head: float32 rows [begin, ...) of row_stride floats.
struct SegmentKv {
  const float* k;
  const float* v;
  int64_t row_stride;
  int64_t begin;
  int64_t head_offset;  // head · head_dim
  PIO_HD float key(int64_t slot, int d) const { return k[(begin + slot) * row_stride + head_offset + d]; }
  PIO_HD float value(int64_t slot, int d) const { return v[(begin + slot) * row_stride + head_offset + d]; }
};

// A CTA's queries of one sequence of the paged attention: `rows` rows from row0 (rows of the
// sequence) times `heads` query heads from head0 (all sharing one KV head); query j is row
// row0 + j / heads, head head0 + j % heads, and sees slots [0, cached_before + row].
struct PagedQueries {
  const float* q;
  float* out;
  int64_t stride;  // floats per row of q and out: n_heads · head_dim
  int64_t q_begin;
  int64_t cached_before;
  int64_t row0;
  int rows;
  int head0;
  int heads;
  int head_dim;
  PIO_HD int count() const { return rows * heads; }
  PIO_HD int64_t row(int j) const { return q_begin + row0 + j / heads; }
  PIO_HD int64_t offset(int j) const { return row(j) * stride + int64_t{head0 + j % heads} * head_dim; }
  PIO_HD const float* query(int j) const { return q + offset(j); }
  PIO_HD float* output(int j) const { return out + offset(j); }
  PIO_HD int64_t context(int j) const { return cached_before + row0 + j / heads + 1; }
};

// A CTA's queries of one segment (one head): rows [row0, row0 + rows) (absolute), each seeing
// all `length` rows of its segment.
struct SegmentQueries {
  const float* q;
  float* out;
  int64_t q_stride;
  int64_t out_stride;
  int64_t row0;
  int rows;
  int64_t head_offset;  // head · head_dim
  int64_t length;
  PIO_HD int count() const { return rows; }
  PIO_HD const float* query(int j) const { return q + (row0 + j) * q_stride + head_offset; }
  PIO_HD float* output(int j) const { return out + (row0 + j) * out_stride + head_offset; }
  PIO_HD int64_t context(int) const { return length; }
};

// The shared memory of one attention CTA, carved from attn_smem_floats(head_dim) floats.
struct AttnSmem {
  float* kv;     // a tile's K rows (stride head_dim + 1: no bank conflicts) or V rows (stride head_dim)
  float* p;      // [query][kAttnTile] scores, then probabilities
  float* o;      // [query][head_dim] the split's output
  float* acc;    // [query][head_dim] the merged splits' output
  float* m;      // per query: the split's running max, sum, α
  float* l;
  float* alpha;
  float* big_m;  // per query: the merged max and sum, and the merge's factors a, b
  float* big_l;
  float* fa;
  float* fb;
};
PIO_HD int64_t attn_smem_floats(int head_dim) {
  return int64_t{kAttnTile} * (head_dim + 1) + int64_t{kAttnMaxQueries} * (kAttnTile + 2 * head_dim + 7);
}
PIO_HD AttnSmem attn_smem(float* base, int head_dim) {
  AttnSmem s;
  s.kv = base;
  s.p = s.kv + kAttnTile * (head_dim + 1);
  s.o = s.p + kAttnMaxQueries * kAttnTile;
  s.acc = s.o + kAttnMaxQueries * head_dim;
  s.m = s.acc + kAttnMaxQueries * head_dim;
  s.l = s.m + kAttnMaxQueries;
  s.alpha = s.l + kAttnMaxQueries;
  s.big_m = s.alpha + kAttnMaxQueries;
  s.big_l = s.big_m + kAttnMaxQueries;
  s.fa = s.big_l + kAttnMaxQueries;
  s.fb = s.fa + kAttnMaxQueries;
  return s;
}

// Splits a context of `length` slots needs.
PIO_HD int64_t attn_splits(int64_t length) { return (length + kAttnSplit - 1) / kAttnSplit; }

// Merging a split (max m, sum l) into the merged (M, L): the factors a (for the merged) and b
// (for the split), M and L updated.
PIO_HD void merge_scalars(float& big_m, float& big_l, float m, float l, float& a, float& b) {
  const float next = max_of(big_m, m);
  a = exp_cephes(big_m - next);
  b = exp_cephes(m - next);
  big_l = add_rn(mul_rn(big_l, a), mul_rn(l, b));
  big_m = next;
}
PIO_HD float merge_value(float merged, float value, float a, float b) {
  return add_rn(mul_rn(merged, a), mul_rn(value, b));
}

// One split (slots [split · kAttnSplit, ...)) for every query of the CTA: leaves each query's
// (m, l, o) in sm; a query whose context ends before the split keeps m = -inf, l = 0, o = 0.
template <class Cta, class Kv, class Queries>
PIO_HD void attend_split(const Cta& cta, const Kv& kv, const Queries& qs, int head_dim, float scale, int64_t split,
                         const AttnSmem& sm) {
  const int nq = qs.count(), hd = head_dim, T = kAttnTile;
  int64_t longest = 0;
  for (int j = 0; j < nq; ++j) longest = qs.context(j) > longest ? qs.context(j) : longest;
  const int64_t begin = split * kAttnSplit, end = begin + kAttnSplit < longest ? begin + kAttnSplit : longest;
  // Slots of the tile from t0 that query j sees (<= 0: none).
  const auto seen = [&](int j, int64_t t0) {
    const int64_t n = qs.context(j) - t0;
    return static_cast<int>(n < T ? n : T);
  };
  cta.phase([&](int t, int n) {
    for (int j = t; j < nq; j += n) sm.m[j] = neg_inf(), sm.l[j] = 0.0f;
    for (int w = t; w < nq * hd; w += n) sm.o[w] = 0.0f;
  });
  for (int64_t t0 = begin; t0 < end; t0 += T) {
    const int slots = static_cast<int>(end - t0 < T ? end - t0 : T);
    cta.phase([&](int t, int n) {  // K rows as float
      for (int e = t; e < slots * hd; e += n) sm.kv[(e / hd) * (hd + 1) + e % hd] = kv.key(t0 + e / hd, e % hd);
    });
    cta.phase([&](int t, int n) {  // scores
      for (int w = t; w < nq * T; w += n) {
        const int j = w / T, c = w % T, sees = seen(j, t0);
        if (sees <= 0) continue;
        float s = neg_inf();
        if (c < sees) {
          const float* q = qs.query(j);
          const float* k = sm.kv + c * (hd + 1);
          float dot = 0.0f;
          for (int d = 0; d < hd; ++d) dot = fma_rn(q[d], k[d], dot);
          s = mul_rn(dot, scale);
        }
        sm.p[w] = s;
      }
    });
    cta.phase([&](int t, int n) {  // the new max and α; V rows as float
      for (int j = t; j < nq; j += n) {
        if (seen(j, t0) <= 0) continue;
        float mx = neg_inf();
        for (int c = 0; c < T; ++c) mx = max_of(mx, sm.p[j * T + c]);
        const float next = max_of(sm.m[j], mx);
        sm.alpha[j] = exp_cephes(sm.m[j] - next);
        sm.m[j] = next;
      }
      for (int e = t; e < slots * hd; e += n) sm.kv[e] = kv.value(t0 + e / hd, e % hd);
    });
    cta.phase([&](int t, int n) {  // probabilities
      for (int w = t; w < nq * T; w += n)
        if (seen(w / T, t0) > 0) sm.p[w] = exp_cephes(sm.p[w] - sm.m[w / T]);
    });
    cta.phase([&](int t, int n) {  // the sum (one thread per query) and the output
      for (int j = t; j < nq; j += n) {
        if (seen(j, t0) <= 0) continue;
        float lane[8];
        for (int i = 0; i < 8; ++i) {
          lane[i] = 0.0f;
          for (int c = i; c < T; c += 8) lane[i] = add_rn(lane[i], sm.p[j * T + c]);
        }
        const float sum = add_rn(add_rn(add_rn(lane[0], lane[4]), add_rn(lane[2], lane[6])),
                                 add_rn(add_rn(lane[1], lane[5]), add_rn(lane[3], lane[7])));
        sm.l[j] = add_rn(mul_rn(sm.l[j], sm.alpha[j]), sum);
      }
      for (int w = t; w < nq * hd; w += n) {
        const int j = w / hd, d = w % hd, sees = seen(j, t0);
        if (sees <= 0) continue;
        const float* p = sm.p + j * T;
        float a = mul_rn(sm.o[w], sm.alpha[j]);
        for (int c = 0; c < sees; ++c) a = fma_rn(p[c], sm.kv[c * hd + d], a);
        sm.o[w] = a;
      }
    });
  }
}

// The prefill kernel's CTA (and the segment attention's): every split of its queries' contexts
// in order, merged, then each query's output row written.
template <class Cta, class Kv, class Queries>
PIO_HD void attend_rows(const Cta& cta, const Kv& kv, const Queries& qs, int head_dim, float scale,
                        const AttnSmem& sm) {
  const int nq = qs.count(), hd = head_dim;
  int64_t longest = 0;
  for (int j = 0; j < nq; ++j) longest = qs.context(j) > longest ? qs.context(j) : longest;
  for (int64_t split = 0; split * kAttnSplit < longest; ++split) {
    attend_split(cta, kv, qs, head_dim, scale, split, sm);
    const auto takes = [&](int j) { return split * kAttnSplit < qs.context(j); };
    cta.phase([&](int t, int n) {
      for (int j = t; j < nq; j += n) {
        if (!takes(j)) continue;
        if (split == 0) sm.big_m[j] = sm.m[j], sm.big_l[j] = sm.l[j];
        else merge_scalars(sm.big_m[j], sm.big_l[j], sm.m[j], sm.l[j], sm.fa[j], sm.fb[j]);
      }
    });
    cta.phase([&](int t, int n) {
      for (int w = t; w < nq * hd; w += n) {
        const int j = w / hd;
        if (!takes(j)) continue;
        sm.acc[w] = split == 0 ? sm.o[w] : merge_value(sm.acc[w], sm.o[w], sm.fa[j], sm.fb[j]);
      }
    });
  }
  cta.phase([&](int t, int n) {
    for (int w = t; w < nq * hd; w += n) {
      const int j = w / hd;
      qs.output(j)[w % hd] = mul_rn(sm.acc[w], div_rn(1.0f, sm.big_l[j]));
    }
  });
}

// Floats of one query's flash-decode partial result: m, l, then o[head_dim].
PIO_HD int64_t attn_partial_floats(int head_dim) { return int64_t{head_dim} + 2; }

// The flash-decode kernel's CTA: split `split` of its queries, written as partials (query j's at
// partial(j) + split · attn_partial_floats(head_dim)).
template <class Cta, class Kv, class Queries, class Partial>
PIO_HD void attend_one_split(const Cta& cta, const Kv& kv, const Queries& qs, int head_dim, float scale,
                             int64_t split, const AttnSmem& sm, const Partial& partial) {
  attend_split(cta, kv, qs, head_dim, scale, split, sm);
  const int nq = qs.count(), hd = head_dim;
  cta.phase([&](int t, int n) {
    for (int w = t; w < nq * hd; w += n) {
      const int j = w / hd, d = w % hd;
      float* out = partial(j) + split * attn_partial_floats(hd);
      if (d == 0) out[0] = sm.m[j], out[1] = sm.l[j];
      out[2 + d] = sm.o[w];
    }
  });
}

// The combine of flash-decode: value d of a query's output from its `splits` partials (as
// attend_one_split wrote them), merged in split order; one thread per d, no shared memory.
PIO_HD float combine_partials(const float* partials, int64_t splits, int head_dim, int d) {
  const int64_t stride = attn_partial_floats(head_dim);
  float big_m = partials[0], big_l = partials[1], acc = partials[2 + d];
  for (int64_t s = 1; s < splits; ++s) {
    const float* p = partials + s * stride;
    float a, b;
    merge_scalars(big_m, big_l, p[0], p[1], a, b);
    acc = merge_value(acc, p[2 + d], a, b);
  }
  return mul_rn(acc, div_rn(1.0f, big_l));
}

}  // namespace pio::cuda
