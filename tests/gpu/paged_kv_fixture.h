// Inputs shared by the paged attention tests of the CPU kernel (test_paged_attention), of the
// CUDA kernels' arithmetic on the CPU (test_cuda_attention_math) and of the CUDA launchers on a
// device (test_cuda_attention_device): random values, one layer's KV pool in host memory, and
// three sequences whose blocks are dealt out of order.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/kv_rows.h"
#include "gpu/kv_dtype.h"

namespace pio::testing {

// Every element type of the KV cache.
inline constexpr KvDType kKvDtypes[] = {KvDType::F32, KvDType::BF16, KvDType::F16, KvDType::Q8};

// n unit-normal floats drawn from `seed`.
inline std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// One layer's K and V: `blocks` blocks of `block_size` slots in `dtype`, zero-filled host memory.
struct KvPool {
  std::vector<unsigned char> k, v;
  PagedKvLayer layer;
  KvPool(KvDType dtype, int blocks, int block_size, int kv_heads, int head_dim)
      : k(static_cast<size_t>(blocks * block_size * kv_heads * kv_row_bytes(dtype, head_dim))), v(k.size()),
        layer{k.data(), v.data(), dtype, block_size, kv_heads, head_dim} {}
};

// Slot t's row for KV head h of a sequence with block table `table`, as stored in `base` (the
// layer's k or v), read back as double.
inline std::vector<double> stored_row(const PagedKvLayer& layer, const void* base, const int32_t* table, int64_t t,
                                      int h) {
  const int64_t slot = int64_t{table[t / layer.block_size]} * layer.block_size + t % layer.block_size;
  std::vector<float> f(static_cast<size_t>(layer.head_dim));
  cpu::load_kv_row(layer.dtype, static_cast<const unsigned char*>(base) + layer.row_offset(slot, h),
                   layer.head_dim, f.data());
  return {f.begin(), f.end()};
}

// The reference: softmax(q·kᵀ · scale) · v in double over the rows [0, ctx) that key(p) and
// value(p) give (head_dim values each).
inline std::vector<double> reference_attention_row(const float* q, int head_dim, int64_t ctx, double scale,
                                                   const std::function<std::vector<double>(int64_t)>& key,
                                                   const std::function<std::vector<double>(int64_t)>& value) {
  std::vector<double> score(static_cast<size_t>(ctx)), want(static_cast<size_t>(head_dim), 0.0);
  double mx = -1e300, sum = 0;
  for (int64_t p = 0; p < ctx; ++p) {
    const auto kr = key(p);
    double dot = 0;
    for (int d = 0; d < head_dim; ++d) dot += double(q[d]) * kr[static_cast<size_t>(d)];
    mx = std::max(mx, score[static_cast<size_t>(p)] = dot * scale);
  }
  for (auto& e : score) sum += (e = std::exp(e - mx));
  for (int64_t p = 0; p < ctx; ++p) {
    const auto vr = value(p);
    const double weight = score[static_cast<size_t>(p)] / sum;
    for (int d = 0; d < head_dim; ++d) want[static_cast<size_t>(d)] += weight * vr[static_cast<size_t>(d)];
  }
  return want;
}

// Three sequences s = 0, 1, 2 in a pool of `blocks` blocks. Sequence s owns the blocks b with
// b % 3 == s, taken from the pool's end (blocks - 1 - b), so no table is in order; its
// cached[s] + fresh[s] slots hold random K and V (seeds 10 + s and 20 + s) stored by
// cpu::store_kv, and its fresh[s] query rows (random q of n_heads heads, seed 30) follow the
// previous sequence's rows.
struct ScrambledSequences {
  std::vector<std::vector<int32_t>> tables;
  std::vector<AttentionSequence> seqs;
  std::vector<float> q;
  int64_t rows = 0;

  ScrambledSequences(const PagedKvLayer& layer, int blocks, const int64_t (&cached)[3], const int64_t (&fresh)[3],
                     int n_heads)
      : tables(3) {
    for (int b = 0; b < blocks; ++b) tables[static_cast<size_t>(b % 3)].push_back(blocks - 1 - b);
    const int64_t kv_width = int64_t{layer.kv_heads} * layer.head_dim;
    for (int s = 0; s < 3; ++s) {
      const int64_t total = cached[s] + fresh[s];
      const auto k = random_floats(static_cast<size_t>(total * kv_width), 10 + s);
      const auto v = random_floats(k.size(), 20 + s);
      cpu::store_kv(layer, tables[static_cast<size_t>(s)].data(), 0, total, k.data(), v.data());
      seqs.push_back({tables[static_cast<size_t>(s)].data(), rows, fresh[s], cached[s]});
      rows += fresh[s];
    }
    q = random_floats(static_cast<size_t>(rows * n_heads * layer.head_dim), 30);
  }
  ScrambledSequences(const ScrambledSequences&) = delete;  // seqs point into tables
  ScrambledSequences& operator=(const ScrambledSequences&) = delete;
};

// One sequence of `len` slots (K and V from seeds 1 and 2, q from seed 3) and another of
// other_len (its K and V both seed 4, q seed 5), for the batch-invariance tests: n_heads query
// heads and kv_heads KV heads of head_dim values.
struct TwoSequenceInputs {
  std::vector<float> k, v, q, other_kv, other_q;
  TwoSequenceInputs(int64_t len, int64_t other_len, int n_heads, int kv_heads, int head_dim)
      : k(random_floats(static_cast<size_t>(len * kv_heads * head_dim), 1)),
        v(random_floats(k.size(), 2)),
        q(random_floats(static_cast<size_t>(len * n_heads * head_dim), 3)),
        other_kv(random_floats(static_cast<size_t>(other_len * kv_heads * head_dim), 4)),
        other_q(random_floats(static_cast<size_t>(other_len * n_heads * head_dim), 5)) {}
};

// The vision encoder's segment attention case: three heads of 80 values in rows with padded
// strides, segments of 37, 300 (two 256-slot splits) and 1 rows from row 3, random q, k and v
// (seeds 7, 8, 9).
struct SegmentCase {
  static constexpr int heads = 3, head_dim = 80;
  static constexpr int64_t row_stride = heads * head_dim + 5, out_stride = heads * head_dim + 3, rows = 345;
  std::vector<int64_t> bounds{3, 40, 340, 341};
  std::vector<float> q = random_floats(static_cast<size_t>(rows * row_stride), 7);
  std::vector<float> k = random_floats(q.size(), 8), v = random_floats(q.size(), 9);
  float scale = 1.0f / std::sqrt(float(head_dim));
};

}  // namespace pio::testing
