// The CUDA KV-cache store's arithmetic (gpu/cuda/kv_math.h), run on the CPU over every CTA and
// thread of the kernel's grid (gpu/cuda/kv.cu): the cache's bytes equal the CPU backend's
// (gpu/cpu/kv_rows.h) for every dtype, so blocks can move between the backends; kv_load reads
// them back as the CPU's load_kv_row does.
#define BOOST_TEST_MODULE cuda_kv_math
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <vector>

#include "gpu/cpu/kv_rows.h"
#include "gpu/cuda/kv_math.h"
#include "tests/gpu/cuda_attention_emulation.h"

using namespace pio;
using pio::cuda::testing::emulate_store_kv;
using pio::cuda::testing::HostCta;
namespace bdata = boost::unit_test::data;

namespace pio {
std::ostream& operator<<(std::ostream& os, KvDType t) { return os << kv_dtype_name(t); }
}  // namespace pio

namespace {

const KvDType kDtypes[] = {KvDType::F32, KvDType::BF16, KvDType::F16, KvDType::Q8};

}  // namespace

// Random rows (normal, with a zero row, one all-equal row and a huge value) stored through a
// scrambled block table from slot 5, by the CPU backend and by the kernel's arithmetic in both
// thread orders: the same bytes; then read back by kv_load as by the CPU's load_kv_row.
BOOST_DATA_TEST_CASE(store_kv_writes_the_cpu_backends_bytes,
                     bdata::make(kDtypes) * bdata::make({64, 128, 14}) * bdata::make({16, 5}), dtype, head_dim,
                     block_size) {
  const int kv_heads = 3, blocks = 8;
  const int64_t first = 5, n = 23, width = int64_t{kv_heads} * head_dim;
  std::mt19937 rng(static_cast<uint32_t>(head_dim * 31 + block_size));
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> k(static_cast<size_t>(n * width)), v(k.size());
  for (auto& x : k) x = normal(rng);
  for (auto& x : v) x = normal(rng);
  std::fill(k.begin(), k.begin() + head_dim, 0.0f);                   // a zero row: q8 scale 0
  std::fill(v.begin() + width, v.begin() + width + head_dim, -3.25f);  // every value the row's max
  k[static_cast<size_t>(2 * width + 1)] = 7e4f;                        // beyond f16's range
  std::vector<int32_t> table{6, 1, 4, 0, 7, 2, 5, 3};
  const auto bytes = static_cast<size_t>(blocks * block_size * kv_heads * kv_row_bytes(dtype, head_dim));
  std::vector<unsigned char> cpu_k(bytes, 0xab), cpu_v(bytes, 0xab);
  const PagedKvLayer cpu_layer{cpu_k.data(), cpu_v.data(), dtype, block_size, kv_heads, head_dim};
  cpu::store_kv(cpu_layer, table.data(), first, n, k.data(), v.data());
  for (bool reversed : {false, true}) {
    std::vector<unsigned char> dev_k(bytes, 0xab), dev_v(bytes, 0xab);
    const PagedKvLayer dev_layer{dev_k.data(), dev_v.data(), dtype, block_size, kv_heads, head_dim};
    emulate_store_kv(dev_layer, table.data(), first, n, k.data(), v.data(), reversed);
    BOOST_TEST((dev_k == cpu_k), "K bytes, reversed " << reversed);
    BOOST_TEST((dev_v == cpu_v), "V bytes, reversed " << reversed);
  }
  const cuda::PagedRows rows{table.data(), block_size, kv_heads, kv_row_bytes(dtype, head_dim)};
  std::vector<float> want(static_cast<size_t>(head_dim));
  for (int64_t slot = first; slot < first + n; ++slot)
    for (int h = 0; h < kv_heads; ++h) {
      const unsigned char* row = cpu_k.data() + rows.offset(slot, h);
      cpu::load_kv_row(dtype, row, head_dim, want.data());
      for (int d = 0; d < head_dim; ++d)
        BOOST_TEST(cuda::kv_load(dtype, row, head_dim, d) == want[static_cast<size_t>(d)],
                   "slot " << slot << " d " << d);
    }
}

// A NaN in a q8 row: the CPU's rule (it stores 127, the scale ignores it) on both sides.
BOOST_AUTO_TEST_CASE(store_kv_q8_nan_matches_the_cpu) {
  const int head_dim = 64;
  std::vector<float> x(head_dim, 0.5f);
  x[9] = std::numeric_limits<float>::quiet_NaN();
  x[40] = -2.0f;
  std::vector<unsigned char> want(static_cast<size_t>(kv_row_bytes(KvDType::Q8, head_dim))), got(want.size());
  cpu::store_kv_row(KvDType::Q8, x.data(), head_dim, want.data());
  float scratch[cuda::kStoreThreads];
  cuda::store_row(HostCta{cuda::kStoreThreads}, KvDType::Q8, x.data(), head_dim, got.data(), scratch);
  BOOST_TEST((got == want));
  BOOST_TEST(static_cast<int8_t>(got[9]) == 127);
  BOOST_TEST(cuda::q8_row_scale(got.data(), head_dim) == 2.0f / 127.0f);
}
