// The CUDA attention kernels' arithmetic (gpu/cuda/attention_math.h, attention_shape.h), run on
// the CPU over every CTA and thread of each kernel's grid (gpu/cuda/attention.cu), in both thread
// orders: paged attention (prefill kernel, flash-decode kernel + combine) and the vision
// encoder's segment attention, against double-precision references, against the CPU backend,
// and for batch invariance bit for bit.
//
// Tolerances. The references are computed in double from the K/V values as stored (dequantised),
// so the cache dtype's own rounding is not part of the error and one bound serves every dtype
// (f32, bf16, f16, q8): what is left is float32 arithmetic. With unit normal q and K/V, a score's
// rounding is about head_dim · 2^-24 · Σ|q_d k_d| (< 1e-5 relative for head_dim 128), e^x is
// within 2 ulp, a split merge adds three roundings, and the output is a weighted mean of V values
// of magnitude < 5, so every output is within 5e-6 of the reference (the CPU kernel's bound,
// tests/gpu/test_paged_attention.cpp; about 1e-6 is seen, contexts of three splits included) and
// so of the CPU backend's. How far bf16 (2^-9 relative) or q8 (half a step of max|x| / 127) move
// a result from float32 K/V is the dtype's choice, not the kernel's: their storing is tested bit
// for bit against the CPU's in test_cuda_kv_math, their rounding in test_paged_attention.
#define BOOST_TEST_MODULE cuda_attention_math
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ostream>
#include <vector>

#include "gpu/cpu/attention.h"
#include "gpu/cpu/kv_rows.h"
#include "gpu/cpu/paged_attention.h"
#include "gpu/cuda/attention_shape.h"
#include "tests/gpu/cuda_attention_emulation.h"
#include "tests/gpu/paged_kv_fixture.h"

using namespace pio;
using pio::cpu::ThreadPool;
using namespace pio::testing;
using pio::cuda::testing::emulate_paged_attention;
using pio::cuda::testing::emulate_segment_attention;
namespace bdata = boost::unit_test::data;

namespace pio {
std::ostream& operator<<(std::ostream& os, KvDType t) { return os << kv_dtype_name(t); }
}  // namespace pio

namespace {

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, sizeof(float) * n) == 0; }

}  // namespace

// e^x as the CPU kernel's: within 2 ulp of exp in double over the softmax's range, 0 below -87,
// exactly 1 at 0 (a single split's merge then changes nothing).
BOOST_AUTO_TEST_CASE(exp_cephes_is_within_two_ulp) {
  BOOST_TEST(cuda::exp_cephes(0.0f) == 1.0f);
  BOOST_TEST(cuda::exp_cephes(-88.0f) == 0.0f);
  BOOST_TEST(cuda::exp_cephes(cuda::neg_inf()) == 0.0f);
  for (float x = -87.0f; x <= 0.0f; x += 0.0137f) {
    const double want = std::exp(double(x)), got = cuda::exp_cephes(x);
    BOOST_TEST(std::abs(got - want) <= 2 * want * 0x1p-23, "x " << x);
  }
}

// Random shapes: Qwen3-VL-2B's heads (16 query, 8 KV, head_dim 128), head_dim 64 with GQA groups
// of 3 and 12 (CTAs of 6 heads), head_dim 64 without GQA. Three sequences with scrambled physical
// blocks: 75 fresh rows, one decode row at 600 cached slots (3 splits) and 9 rows across the
// 256-slot split. Per dtype: the prefill kernel within the tolerance of the double reference, the
// CPU backend's bits for every row whose context fits one split and within the tolerance beyond;
// the decode row's bits equal through the flash-decode kernel.
BOOST_DATA_TEST_CASE(paged_attention_matches_reference_and_cpu,
                     bdata::make({16, 6, 24, 4}) ^ bdata::make({8, 2, 2, 4}) ^ bdata::make({128, 64, 64, 64}) ^
                         bdata::make({16, 5, 16, 7}),
                     n_heads, kv_heads, head_dim, block_size) {
  const int64_t cached[3] = {0, 600, 250}, fresh[3] = {75, 1, 9};
  const int per_seq = static_cast<int>(601 / block_size + 1), blocks = 3 * per_seq;
  for (KvDType t : kKvDtypes) {
    KvPool pool(t, blocks, block_size, kv_heads, head_dim);
    const ScrambledSequences in(pool.layer, blocks, cached, fresh, n_heads);
    const auto& q = in.q;
    const auto& seqs = in.seqs;
    const int64_t q_width = int64_t{n_heads} * head_dim;
    const double scale = 1 / std::sqrt(double(head_dim));
    std::vector<float> out(q.size(), -1.0f), out_reversed(q.size(), -2.0f), cpu_out(q.size());
    emulate_paged_attention(q.data(), n_heads, pool.layer, seqs, static_cast<float>(scale), out.data(), false);
    emulate_paged_attention(q.data(), n_heads, pool.layer, seqs, static_cast<float>(scale), out_reversed.data(), false,
                            true);
    BOOST_TEST(same_bits(out.data(), out_reversed.data(), out.size()), kv_dtype_name(t) << ": thread order");
    ThreadPool threads(2);
    cpu::AttentionScratch scratch;
    cpu::paged_attention(threads, scratch, q.data(), n_heads, pool.layer, seqs, static_cast<float>(scale),
                         cpu_out.data());

    double worst = 0, worst_cpu = 0;
    for (int s = 0; s < 3; ++s)
      for (int64_t i = 0; i < fresh[s]; ++i) {
        const int64_t row = seqs[static_cast<size_t>(s)].q_begin + i, ctx = cached[s] + i + 1;
        const size_t at = static_cast<size_t>(row * q_width);
        if (ctx <= cuda::kAttnSplit)
          BOOST_TEST(same_bits(out.data() + at, cpu_out.data() + at, static_cast<size_t>(q_width)),
                     kv_dtype_name(t) << ": the CPU's bits, sequence " << s << " row " << i);
        for (int h = 0; h < n_heads; ++h) {
          const int kvh = h / (n_heads / kv_heads);
          const int32_t* table = in.tables[static_cast<size_t>(s)].data();
          const auto want = reference_attention_row(
              q.data() + at + h * head_dim, head_dim, ctx, scale,
              [&](int64_t p) { return stored_row(pool.layer, pool.k.data(), table, p, kvh); },
              [&](int64_t p) { return stored_row(pool.layer, pool.v.data(), table, p, kvh); });
          for (int d = 0; d < head_dim; ++d) {
            const size_t o = at + static_cast<size_t>(h * head_dim + d);
            worst = std::max(worst, std::abs(out[o] - want[static_cast<size_t>(d)]));
            worst_cpu = std::max(worst_cpu, double(std::abs(out[o] - cpu_out[o])));
          }
        }
      }
    BOOST_TEST_MESSAGE(kv_dtype_name(t) << ": largest error " << worst << ", from the CPU backend " << worst_cpu);
    BOOST_TEST(worst <= 5e-6, kv_dtype_name(t) << ": largest error " << worst);
    BOOST_TEST(worst_cpu <= 5e-6, kv_dtype_name(t) << ": largest difference from the CPU backend " << worst_cpu);

    // The decode row (sequence 1) alone through the flash-decode kernel: the prefill kernel's bits.
    std::vector<AttentionSequence> decode{{seqs[1].block_table, 0, 1, cached[1]}};
    std::vector<float> decoded(static_cast<size_t>(q_width));
    emulate_paged_attention(q.data() + seqs[1].q_begin * q_width, n_heads, pool.layer, decode,
                            static_cast<float>(scale), decoded.data(), true);
    BOOST_TEST(same_bits(decoded.data(), out.data() + seqs[1].q_begin * q_width, decoded.size()),
               kv_dtype_name(t) << ": flash-decode's bits");
  }
}

// Batch invariance, per dtype: a query row's output has the same bits whether its sequence's 300
// queries (two splits) come in one call, in a chunk, beside another sequence's queries, or one at
// a time through the flash-decode kernel (alone or beside another decode row) or through the
// prefill kernel beside another sequence's 21 queries; with any block size and thread order.
BOOST_DATA_TEST_CASE(paged_attention_rows_are_batch_invariant, bdata::make(kKvDtypes), dtype) {
  const int n_heads = 4, kv_heads = 2, head_dim = 64;
  const int64_t len = 300, other_len = 21, q_width = n_heads * head_dim;
  const TwoSequenceInputs inputs(len, other_len, n_heads, kv_heads, head_dim);
  const auto& [k, v, q, other_kv, other_q] = inputs;

  // Output rows of queries [first, first + n), the cache holding slots [0, first + n); with
  // `other`, another sequence's queries (other_n of them, its last ones) come first in the call.
  const auto run = [&](int block_size, int64_t first, int64_t n, int64_t other_n, bool decode, bool reversed) {
    const int blocks = 2 * static_cast<int>((len + other_len) / block_size + 2);
    KvPool pool(dtype, blocks, block_size, kv_heads, head_dim);
    std::vector<int32_t> table, other_table;  // interleaved physical blocks
    for (int i = 0; i < blocks / 2; ++i) table.push_back(2 * i + 1), other_table.push_back(2 * i);
    cpu::store_kv(pool.layer, table.data(), 0, first + n, k.data(), v.data());
    cpu::store_kv(pool.layer, other_table.data(), 0, other_len, other_kv.data(), other_kv.data());
    std::vector<float> qs(other_q.end() - other_n * q_width, other_q.end());
    qs.insert(qs.end(), q.begin() + first * q_width, q.begin() + (first + n) * q_width);
    std::vector<AttentionSequence> seqs{{table.data(), other_n, n, first}};
    if (other_n > 0) seqs.insert(seqs.begin(), AttentionSequence{other_table.data(), 0, other_n, other_len - other_n});
    std::vector<float> out(qs.size());
    emulate_paged_attention(qs.data(), n_heads, pool.layer, seqs, 0.125f, out.data(), decode, reversed);
    return std::vector<float>(out.begin() + other_n * q_width, out.end());
  };
  const auto same = [&](const std::vector<float>& got, const std::vector<float>& want, int64_t offset) {
    return same_bits(got.data(), want.data() + offset * q_width, got.size());
  };
  const auto whole = run(16, 0, len, 0, false, false);
  BOOST_TEST(same(run(5, 0, len, other_len, false, true), whole, 0));
  BOOST_TEST(same(run(7, 97, 180, 0, false, false), whole, 97));
  BOOST_TEST(same(run(16, 250, 50, 3, false, true), whole, 250));
  for (int64_t i = 0; i < len; ++i) {
    BOOST_TEST(same(run(16, i, 1, i % 2, true, i % 3 == 0), whole, i), "decode of query " << i);
    if (i % 7 == 0) BOOST_TEST(same(run(7, i, 1, other_len, false, false), whole, i), "prefill of query " << i);
  }
}

// Segment attention (three heads of 80 values, padded row strides): segments of 37, 300 (two
// splits) and 1 rows from row 3. Each output row within the tolerance of the double reference
// and of the CPU backend's segment_attention, and with the same bits however the query rows are
// split over calls and in either thread order; rows outside [query_begin, query_end) untouched.
BOOST_AUTO_TEST_CASE(segment_attention_matches_reference_cpu_and_splits) {
  const SegmentCase segment_case;
  const auto& [bounds, q, k, v, scale] = segment_case;
  constexpr int heads = SegmentCase::heads, head_dim = SegmentCase::head_dim;
  constexpr int64_t row_stride = SegmentCase::row_stride, out_stride = SegmentCase::out_stride, rows = SegmentCase::rows;
  std::vector<float> whole(static_cast<size_t>(rows * out_stride), -7.0f);
  emulate_segment_attention(q.data(), k.data(), v.data(), row_stride, heads, head_dim, bounds, scale, 0, rows,
                            whole.data(), out_stride);
  std::vector<float> pieces(whole.size(), -7.0f);
  for (auto [lo, hi] : {std::pair<int64_t, int64_t>{30, 41}, {0, 30}, {200, 345}, {41, 200}})
    emulate_segment_attention(q.data(), k.data(), v.data(), row_stride, heads, head_dim, bounds, scale, lo, hi,
                              pieces.data(), out_stride, lo == 41);
  BOOST_TEST(same_bits(pieces.data(), whole.data(), whole.size()));

  ThreadPool threads(2);
  cpu::SegmentScratch scratch;
  std::vector<float> cpu_out(whole.size(), -7.0f);
  cpu::pack_segments(threads, scratch, k.data(), v.data(), row_stride, heads, head_dim, bounds);
  cpu::segment_attention(threads, scratch, q.data(), row_stride, scale, 0, rows, cpu_out.data(), out_stride);
  double worst = 0, worst_cpu = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int h = 0; h < heads; ++h) {
      const size_t at = static_cast<size_t>(r * out_stride + h * head_dim);
      if (r < bounds.front() || r >= bounds.back()) {
        BOOST_TEST(whole[at] == -7.0f, "row " << r << " is no segment's");
        continue;
      }
      const int64_t s = std::upper_bound(bounds.begin(), bounds.end(), r) - bounds.begin() - 1;
      const int64_t begin = bounds[static_cast<size_t>(s)], len = bounds[static_cast<size_t>(s) + 1] - begin;
      const auto rows_of = [&](const std::vector<float>& x) {
        return [&x, begin, h](int64_t p) {
          const float* row = x.data() + (begin + p) * row_stride + h * head_dim;
          return std::vector<double>(row, row + head_dim);
        };
      };
      const auto want =
          reference_attention_row(q.data() + r * row_stride + h * head_dim, head_dim, len, scale, rows_of(k), rows_of(v));
      for (int d = 0; d < head_dim; ++d) {
        const size_t o = at + static_cast<size_t>(d);
        worst = std::max(worst, std::abs(whole[o] - want[static_cast<size_t>(d)]));
        worst_cpu = std::max(worst_cpu, double(std::abs(whole[o] - cpu_out[o])));
      }
    }
  BOOST_TEST_MESSAGE("segments: largest error " << worst << ", from the CPU backend " << worst_cpu);
  BOOST_TEST(worst <= 5e-6, "largest error " << worst);
  BOOST_TEST(worst_cpu <= 5e-6, "largest difference from the CPU backend " << worst_cpu);
}
