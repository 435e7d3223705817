// The KV cache's element types (gpu/kv_dtype.h) and the blocked paged attention kernel
// (gpu/cpu/paged_attention.h): rows stored and read back per dtype, attention against a
// double-precision reference computed from the K/V values as stored (dequantised), and bit-exact
// batch invariance per dtype.
#define BOOST_TEST_MODULE paged_attention
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <ostream>
#include <random>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/cpu_features.h"
#include "gpu/cpu/kv_rows.h"
#include "gpu/cpu/paged_attention.h"
#include "gpu/kernel_math.h"
#include "tests/gpu/paged_kv_fixture.h"

using namespace pio;
using pio::cpu::ThreadPool;
using namespace pio::testing;
namespace bdata = boost::unit_test::data;

namespace pio {
std::ostream& operator<<(std::ostream& os, KvDType t) { return os << kv_dtype_name(t); }
}  // namespace pio

namespace {

std::string name(KvDType t) { return std::string(kv_dtype_name(t)); }

}  // namespace

BOOST_AUTO_TEST_CASE(kv_dtype_names_and_row_bytes) {
  for (KvDType t : kKvDtypes) {
    KvDType parsed = KvDType::F32;
    BOOST_TEST(parse_kv_dtype(kv_dtype_name(t), parsed));
    BOOST_TEST((parsed == t));
  }
  KvDType out = KvDType::F32;
  BOOST_TEST(!parse_kv_dtype("bogus", out));
  BOOST_TEST(!parse_kv_dtype("auto", out));  // the CLI resolves auto itself
  BOOST_TEST(kv_row_bytes(KvDType::F32, 128) == 512);
  BOOST_TEST(kv_row_bytes(KvDType::BF16, 128) == 256);
  BOOST_TEST(kv_row_bytes(KvDType::F16, 64) == 128);
  BOOST_TEST(kv_row_bytes(KvDType::Q8, 128) == 132);
  BOOST_TEST((kv_dtype_for_weights(DType::BF16) == KvDType::BF16));
  BOOST_TEST((kv_dtype_for_weights(DType::F16) == KvDType::F16));
  BOOST_TEST((kv_dtype_for_weights(DType::F32) == KvDType::F32));
}

// A block holds one run of block_size rows per KV head, head 0's first, and spans exactly its own
// block_size · kv_heads rows: the blocks tile the layer without gaps or overlaps.
BOOST_AUTO_TEST_CASE(kv_row_offset_keeps_a_heads_rows_of_a_block_in_one_run) {
  const int block_size = 5, kv_heads = 3;
  const int64_t row_bytes = 132, block_bytes = int64_t{block_size} * kv_heads * row_bytes;
  std::vector<int64_t> seen;
  for (int64_t phys = 0; phys < 4 * block_size; ++phys)
    for (int h = 0; h < kv_heads; ++h) {
      const int64_t at = kv_row_offset(phys, h, block_size, kv_heads, row_bytes);
      const int64_t block = phys / block_size, slot = phys % block_size;
      BOOST_TEST(at == block * block_bytes + (int64_t{h} * block_size + slot) * row_bytes);
      if (slot > 0) BOOST_TEST(at == kv_row_offset(phys - 1, h, block_size, kv_heads, row_bytes) + row_bytes);
      seen.push_back(at);
    }
  std::sort(seen.begin(), seen.end());
  for (size_t i = 0; i < seen.size(); ++i) BOOST_TEST(seen[i] == static_cast<int64_t>(i) * row_bytes);
  const PagedKvLayer layer{nullptr, nullptr, KvDType::Q8, block_size, kv_heads, 128};
  BOOST_TEST(layer.row_offset(7, 2) == kv_row_offset(7, 2, block_size, kv_heads, 132));
}

// A stored row reads back as the dtype's rounding of each value: f32 exact, bf16 and f16 the
// nearest-even value (kernel_math's converters, checked against torch elsewhere), q8 within half
// a step of its scale max|x| / 127, the largest value exactly ±127 steps.
BOOST_DATA_TEST_CASE(kv_rows_round_trip, bdata::make({14, 64, 128}), head_dim) {
  auto x = random_floats(static_cast<size_t>(head_dim), static_cast<uint32_t>(head_dim));
  x[3] = -4.5f;  // the row's largest magnitude
  for (KvDType t : kKvDtypes) {
    std::vector<char> row(static_cast<size_t>(kv_row_bytes(t, head_dim)));
    cpu::store_kv_row(t, x.data(), head_dim, row.data());
    std::vector<float> back(static_cast<size_t>(head_dim));
    cpu::load_kv_row(t, row.data(), head_dim, back.data());
    for (int d = 0; d < head_dim; ++d) {
      float want = x[d];
      if (t == KvDType::BF16) want = math::bf16_to_f32(math::f32_to_bf16(x[d]));
      if (t == KvDType::F16) want = math::f16_to_f32(math::f32_to_f16(x[d]));
      if (t == KvDType::Q8) {
        BOOST_TEST(std::abs(back[d] - x[d]) <= 4.5f / 127 / 2 * (1 + 1e-5f), name(t) << " d " << d);
        continue;
      }
      BOOST_TEST(back[d] == want, name(t) << " d " << d);
    }
    if (t == KvDType::Q8) {
      BOOST_TEST(static_cast<int8_t>(row[3]) == -127);
      float scale;
      std::memcpy(&scale, row.data() + head_dim, sizeof scale);
      BOOST_TEST(scale == 4.5f / 127.0f);
    }
  }
  // A zero row stays zero (q8's scale is 0, not a division by zero).
  std::vector<float> zeros(static_cast<size_t>(head_dim), 0.0f), back(zeros.size(), 1.0f);
  std::vector<char> row(static_cast<size_t>(kv_row_bytes(KvDType::Q8, head_dim)));
  cpu::store_kv_row(KvDType::Q8, zeros.data(), head_dim, row.data());
  cpu::load_kv_row(KvDType::Q8, row.data(), head_dim, back.data());
  BOOST_TEST(back == zeros);
}

// Shapes: Qwen3-VL-2B's heads (16 query, 8 KV, head_dim 128), head_dim 64 with GQA groups of 3,
// an odd head_dim (14), and 88 (every vector block width and a scalar tail on 16 lanes). Three sequences with scrambled physical blocks, different cached
// prefixes and query counts, contexts that are no multiple of the 64-slot tile. The reference is
// double precision over the K/V rows as stored; float32 rounding of a score is about
// head_dim · 2^-24 · Σ|q_d k_d| and the kernel's exp is within a few ulp, so with unit normal
// inputs every output (a weighted mean of V values of magnitude < 5) is within 5e-6 (about 1e-6
// is seen).
BOOST_DATA_TEST_CASE(paged_attention_matches_double_reference,
                     bdata::make({16, 6, 4, 2}) ^ bdata::make({8, 2, 2, 1}) ^ bdata::make({128, 64, 14, 88}) ^
                         bdata::make({16, 5, 16, 7}),
                     n_heads, kv_heads, head_dim, block_size) {
  const int64_t cached[3] = {0, 70, 130}, fresh[3] = {67, 1, 9};
  const int blocks = 3 * ((139 + block_size - 1) / block_size + 1);  // every sequence holds at most 139 slots
  for (KvDType t : kKvDtypes) {
    KvPool pool(t, blocks, block_size, kv_heads, head_dim);
    const ScrambledSequences in(pool.layer, blocks, cached, fresh, n_heads);
    const int64_t q_width = int64_t{n_heads} * head_dim;
    std::vector<float> out(in.q.size());
    ThreadPool threads(2);
    cpu::AttentionScratch scratch;
    const double scale = 1 / std::sqrt(double(head_dim));
    cpu::paged_attention(threads, scratch, in.q.data(), n_heads, pool.layer, in.seqs, static_cast<float>(scale),
                         out.data());
    // AVX2's 8-lane kernels give the same bits as the widest (every head_dim tail included).
    std::vector<float> out_avx2(in.q.size());
    cpu::paged_attention(threads, scratch, in.q.data(), n_heads, pool.layer, in.seqs, static_cast<float>(scale),
                         out_avx2.data(), cpu::AttentionLanes::Avx2);
    BOOST_TEST(std::memcmp(out.data(), out_avx2.data(), sizeof(float) * out.size()) == 0, name(t));
    double worst = 0;
    for (int s = 0; s < 3; ++s)
      for (int64_t i = 0; i < fresh[s]; ++i)
        for (int h = 0; h < n_heads; ++h) {
          const int kvh = h / (n_heads / kv_heads);
          const int64_t row = in.seqs[static_cast<size_t>(s)].q_begin + i, ctx = cached[s] + i + 1;
          const float* qh = in.q.data() + row * q_width + int64_t{h} * head_dim;
          const int32_t* table = in.tables[static_cast<size_t>(s)].data();
          const auto want = reference_attention_row(
              qh, head_dim, ctx, scale, [&](int64_t p) { return stored_row(pool.layer, pool.k.data(), table, p, kvh); },
              [&](int64_t p) { return stored_row(pool.layer, pool.v.data(), table, p, kvh); });
          for (int d = 0; d < head_dim; ++d)
            worst = std::max(worst, std::abs(out[static_cast<size_t>(row * q_width + int64_t{h} * head_dim + d)] - want[static_cast<size_t>(d)]));
        }
    BOOST_TEST(worst <= 5e-6, name(t) << ": largest error " << worst);
  }
}

// Batch invariance (paged_attention.h), per dtype: a query row's output has the same bits
// whether its sequence's queries come in one call, in chunks that cut the 64-row blocks and the
// 64-slot tiles anywhere, or one at a time (decode), alone or after another sequence's queries,
// with any block size or thread count; and the same with AVX2's 8-lane kernels as with the
// widest (AVX-512's 16 lanes where the CPU has them).
BOOST_DATA_TEST_CASE(paged_attention_rows_are_batch_invariant, bdata::make(kKvDtypes), dtype) {
  const int n_heads = 4, kv_heads = 2, head_dim = 64;
  const int64_t len = 150, other_len = 21, q_width = n_heads * head_dim;
  const TwoSequenceInputs inputs(len, other_len, n_heads, kv_heads, head_dim);
  const auto& [k, v, q, other_kv, other_q] = inputs;
  ThreadPool one_thread(1), three_threads(3);
  cpu::AttentionScratch scratch;

  // Output rows of queries [first, first + n), the cache holding slots [0, first + n); with
  // `other`, another sequence's 21 new queries come first in the call.
  const auto run = [&](ThreadPool& threads, int block_size, int64_t first, int64_t n, bool other,
                       cpu::AttentionLanes lanes = cpu::AttentionLanes::Widest) {
    const int blocks = 2 * static_cast<int>((len + other_len) / block_size + 2);
    KvPool pool(dtype, blocks, block_size, kv_heads, head_dim);
    std::vector<int32_t> table, other_table;  // interleaved physical blocks
    for (int i = 0; i < blocks / 2; ++i) table.push_back(2 * i + 1), other_table.push_back(2 * i);
    cpu::store_kv(pool.layer, table.data(), 0, first + n, k.data(), v.data());
    cpu::store_kv(pool.layer, other_table.data(), 0, other_len, other_kv.data(), other_kv.data());
    const int64_t before = other ? other_len : 0;
    std::vector<float> qs(other_q.begin(), other_q.begin() + before * q_width);
    qs.insert(qs.end(), q.begin() + first * q_width, q.begin() + (first + n) * q_width);
    std::vector<AttentionSequence> seqs{{table.data(), before, n, first}};
    if (other) seqs.insert(seqs.begin(), AttentionSequence{other_table.data(), 0, other_len, 0});
    std::vector<float> out(qs.size());
    cpu::paged_attention(threads, scratch, qs.data(), n_heads, pool.layer, seqs, 0.125f, out.data(), lanes);
    return std::vector<float>(out.begin() + before * q_width, out.end());
  };
  const auto same_bits = [&](const std::vector<float>& got, const std::vector<float>& want, int64_t offset) {
    return std::memcmp(got.data(), want.data() + offset * q_width, sizeof(float) * got.size()) == 0;
  };
  const auto whole = run(one_thread, 16, 0, len, false);
  BOOST_TEST(same_bits(run(three_threads, 16, 0, len, true, cpu::AttentionLanes::Avx2), whole, 0));
  BOOST_TEST(same_bits(run(three_threads, 7, 97, 53, false, cpu::AttentionLanes::Avx2), whole, 97));
  if (!cpu::has_avx512f()) BOOST_TEST_MESSAGE("SKIPPED the 16-lane kernels: this CPU has no AVX-512 F");
  BOOST_TEST(same_bits(run(three_threads, 5, 0, len, true), whole, 0));
  BOOST_TEST(same_bits(run(three_threads, 16, 0, 37, true), whole, 0));
  BOOST_TEST(same_bits(run(one_thread, 7, 37, 60, false), whole, 37));
  BOOST_TEST(same_bits(run(three_threads, 16, 97, 53, true), whole, 97));
  for (int64_t i = 0; i < len; ++i)
    BOOST_TEST(same_bits(run(three_threads, 16, i, 1, i % 2 == 0), whole, i), "query " << i);
}
