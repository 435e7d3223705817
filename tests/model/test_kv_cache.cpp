// The paged KV cache's bytes (KvStorage, allocated through the CPU backend) and the pool and
// storage together (PagedKvCache, load_block / export_block).
#define BOOST_TEST_MODULE kv_cache
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <memory>

#include "gpu/backend_buffer.h"
#include "model/errors.h"
#include "model/kv_cache.h"

using namespace pio;

namespace {
const KvCacheShape kShape{2, 3, 4};  // 2 layers, 3 KV heads of 4

Backend& backend() {
  static const std::unique_ptr<Backend> be = make_cpu_backend(1);
  return *be;
}

// This process's resident memory in bytes (/proc/self/statm).
int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}
}  // namespace

BOOST_AUTO_TEST_CASE(budget_sets_the_block_count) {
  const int64_t per_block = KvStorage::bytes_per_block(kShape, 8);
  BOOST_TEST(per_block == 2 * 2 * 8 * 3 * 4 * 4);
  const PagedKvCache cache(backend(), kShape, per_block * 5 + per_block / 2, 8);
  BOOST_TEST(cache.storage().total_blocks() == 5);
  BOOST_TEST(cache.pool().total_blocks() == 5);
  BOOST_TEST(cache.pool().free_blocks() == 5);
  BOOST_CHECK_THROW(KvStorage(backend(), kShape, per_block - 1, 8), ModelError);
  BOOST_CHECK_THROW(KvStorage(backend(), kShape, per_block, 0), ModelError);
}

// Smaller KV dtypes hold more tokens in the same budget: bf16 and f16 two bytes a value, q8 one
// plus a 4-byte scale per (slot, head) row.
BOOST_AUTO_TEST_CASE(block_bytes_follow_the_kv_dtype) {
  const auto with = [](KvDType t) { return KvCacheShape{2, 3, 4, t}; };
  BOOST_TEST(KvStorage::bytes_per_block(with(KvDType::BF16), 8) == 2 * 2 * 8 * 3 * 4 * 2);
  BOOST_TEST(KvStorage::bytes_per_block(with(KvDType::F16), 8) == 2 * 2 * 8 * 3 * 4 * 2);
  BOOST_TEST(KvStorage::bytes_per_block(with(KvDType::Q8), 8) == 2 * 2 * 8 * 3 * (4 + 4));
  const int64_t budget = KvStorage::bytes_per_block(kShape, 8) * 5;
  BOOST_TEST(KvStorage(backend(), with(KvDType::BF16), budget, 8).total_blocks() == 10);
  BOOST_TEST((KvStorage(backend(), with(KvDType::Q8), budget, 8).dtype() == KvDType::Q8));
}

BOOST_AUTO_TEST_CASE(layers_are_disjoint_aligned_views_of_the_storage) {
  const KvStorage kv(backend(), kShape, KvStorage::bytes_per_block(kShape, 4) * 3, 4);
  const PagedKvLayer l0 = kv.layer(0), l1 = kv.layer(1);
  // blocks x block_size x kv_heads x head_dim x 4 bytes
  BOOST_TEST(static_cast<char*>(l1.k) - static_cast<char*>(l0.k) == 3 * 4 * 3 * 4 * 4);
  BOOST_TEST(reinterpret_cast<uintptr_t>(l0.k) % 256 == 0u);
  BOOST_TEST(reinterpret_cast<uintptr_t>(l0.v) % 256 == 0u);
  BOOST_TEST(l0.block_size == 4);
  BOOST_TEST(l0.kv_heads == 3);
  BOOST_TEST(l0.head_dim == 4);
}

// The CPU backend's memory is zero-filled and costs no resident memory until written, so a KV
// budget reserved up front grows RSS only as blocks fill (the pool's touched_blocks).
BOOST_AUTO_TEST_CASE(backend_memory_is_zero_and_untouched_until_written) {
  constexpr size_t kBytes = size_t{256} << 20;
  const int64_t before = resident_bytes();
  BackendBuffer buffer(backend(), kBytes);
  BOOST_TEST(reinterpret_cast<uintptr_t>(buffer.data()) % 256 == 0u);
  BOOST_TEST(resident_bytes() - before < (int64_t{8} << 20));
  const auto* words = reinterpret_cast<const uint64_t*>(buffer.data());
  uint64_t sum = 0;
  for (size_t i = 0; i < kBytes / 8; i += 512) sum |= words[i];  // reads map the shared zero page
  BOOST_TEST(sum == 0u);
  for (size_t i = 0; i < (size_t{64} << 20); i += 4096) buffer.data()[i] = std::byte{1};
  BOOST_TEST(resident_bytes() - before >= (int64_t{60} << 20));
  BOOST_CHECK_THROW(BackendBuffer(backend(), SIZE_MAX - 16), std::bad_alloc);
}

// Per KV dtype: a block's bytes (dtype tag, then K and V rows of every layer as stored) come
// back exactly in another block; bytes of another size or another dtype are refused, even f16
// bytes offered to a bf16 cache (same size).
BOOST_AUTO_TEST_CASE(a_block_exported_and_loaded_keeps_every_byte) {
  for (KvDType t : {KvDType::F32, KvDType::BF16, KvDType::F16, KvDType::Q8}) {
    const KvCacheShape shape{2, 3, 4, t};
    PagedKvCache cache(backend(), shape, KvStorage::bytes_per_block(shape, 4) * 3, 4);
    KvBlockPool& pool = cache.pool();
    KvStorage& kv = cache.storage();
    const SequenceId a = pool.add_sequence();
    pool.append(a, 4);
    const int64_t block_bytes = 4 * 3 * kv_row_bytes(t, 4);
    for (int l = 0; l < shape.layers; ++l) {
      const PagedKvLayer layer = kv.layer(l);
      BOOST_TEST((layer.dtype == t));
      const int64_t base = pool.block_table(a)[0] * block_bytes;
      for (int64_t i = 0; i < block_bytes; ++i) {
        static_cast<char*>(layer.k)[base + i] = static_cast<char>(l * 100 + i);
        static_cast<char*>(layer.v)[base + i] = static_cast<char>(-l * 100 - i);
      }
    }
    const std::string bytes = export_block(pool, kv, a, 0);
    BOOST_TEST(static_cast<int64_t>(bytes.size()) == 1 + kv.bytes_per_block());
    BOOST_TEST(bytes[0] == static_cast<char>(t));
    BOOST_TEST(bytes.substr(1, 3) == std::string("\x00\x01\x02", 3));  // layer 0's K first
    BOOST_CHECK_THROW(export_block(pool, kv, a, 1), ModelError);
    const SequenceId b = pool.add_sequence();
    BOOST_TEST(!load_block(pool, kv, b, bytes.substr(1)));  // wrong size
    std::string other_dtype = bytes;
    other_dtype[0] = static_cast<char>(t == KvDType::BF16 ? KvDType::F16 : KvDType::BF16);
    BOOST_TEST(!load_block(pool, kv, b, other_dtype));
    BOOST_TEST(pool.length(b) == 0);
    BOOST_TEST(pool.free_blocks() == 2);
    BOOST_TEST(load_block(pool, kv, b, bytes));
    BOOST_TEST(pool.length(b) == 4);
    BOOST_TEST(pool.block_table(b)[0] != pool.block_table(a)[0]);
    BOOST_TEST(export_block(pool, kv, b, 0) == bytes);
    BOOST_CHECK_THROW(kv.import_block(0, other_dtype), ModelError);
  }
}
