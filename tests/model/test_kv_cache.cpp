// The paged KV cache's block bookkeeping.
#define BOOST_TEST_MODULE kv_cache
#include <boost/test/unit_test.hpp>

#include <set>

#include "model/errors.h"
#include "model/kv_cache.h"

using namespace pio;

namespace {
const KvCacheShape kShape{2, 3, 4};  // 2 layers, 3 KV heads of 4
}

BOOST_AUTO_TEST_CASE(budget_sets_the_block_count) {
  const int64_t per_block = PagedKvCache::bytes_per_block(kShape, 8);
  BOOST_TEST(per_block == 2 * 2 * 8 * 3 * 4 * 4);
  const PagedKvCache cache(kShape, per_block * 5 + per_block / 2, 8);
  BOOST_TEST(cache.total_blocks() == 5);
  BOOST_TEST(cache.free_blocks() == 5);
  BOOST_CHECK_THROW(PagedKvCache(kShape, per_block - 1, 8), ModelError);
}

// Smaller KV dtypes hold more tokens in the same budget: bf16 and f16 two bytes a value, q8 one
// plus a 4-byte scale per (slot, head) row.
BOOST_AUTO_TEST_CASE(block_bytes_follow_the_kv_dtype) {
  const auto with = [](KvDType t) { return KvCacheShape{2, 3, 4, t}; };
  BOOST_TEST(PagedKvCache::bytes_per_block(with(KvDType::BF16), 8) == 2 * 2 * 8 * 3 * 4 * 2);
  BOOST_TEST(PagedKvCache::bytes_per_block(with(KvDType::F16), 8) == 2 * 2 * 8 * 3 * 4 * 2);
  BOOST_TEST(PagedKvCache::bytes_per_block(with(KvDType::Q8), 8) == 2 * 2 * 8 * 3 * (4 + 4));
  const int64_t budget = PagedKvCache::bytes_per_block(kShape, 8) * 5;
  BOOST_TEST(PagedKvCache(with(KvDType::BF16), budget, 8).total_blocks() == 10);
  BOOST_TEST((PagedKvCache(with(KvDType::Q8), budget, 8).dtype() == KvDType::Q8));
}

BOOST_AUTO_TEST_CASE(sequences_take_blocks_as_they_grow_and_return_them) {
  PagedKvCache cache(kShape, PagedKvCache::bytes_per_block(kShape, 4) * 6, 4);
  const SequenceId a = cache.add_sequence(), b = cache.add_sequence();
  BOOST_TEST(cache.append(a, 3) == 0);
  BOOST_TEST(cache.free_blocks() == 5);
  BOOST_TEST(cache.append(a, 1) == 3);  // still fits the first block
  BOOST_TEST(cache.free_blocks() == 5);
  BOOST_TEST(cache.append(a, 1) == 4);  // crosses into a second block
  BOOST_TEST(cache.free_blocks() == 4);
  BOOST_TEST(cache.append(b, 16) == 0);
  BOOST_TEST(cache.free_blocks() == 0);
  std::set<int32_t> used;  // no block is shared between sequences
  for (int i = 0; i < 2; ++i) used.insert(cache.block_table(a)[i]);
  for (int i = 0; i < 4; ++i) used.insert(cache.block_table(b)[i]);
  BOOST_TEST(used.size() == 6u);
  BOOST_TEST(cache.append(a, 4) == -1);  // no room: nothing changes
  BOOST_TEST(cache.length(a) == 5);
  cache.release(b);
  BOOST_TEST(cache.free_blocks() == 4);
  BOOST_TEST(cache.append(a, 4) == 5);
  BOOST_CHECK_THROW(cache.length(b), ModelError);
}

BOOST_AUTO_TEST_CASE(layers_are_disjoint_views_of_the_pool) {
  const PagedKvCache cache(kShape, PagedKvCache::bytes_per_block(kShape, 4) * 3, 4);
  const PagedKvLayer l0 = cache.layer(0), l1 = cache.layer(1);
  // blocks x block_size x kv_heads x head_dim x 4 bytes
  BOOST_TEST(static_cast<char*>(l1.k) - static_cast<char*>(l0.k) == 3 * 4 * 3 * 4 * 4);
  BOOST_TEST(l0.block_size == 4);
  BOOST_TEST(l0.kv_heads == 3);
  BOOST_TEST(l0.head_dim == 4);
}

// Prefix caching: registered blocks are shared with reference counts, retained after release
// until the pool needs them, and travel as bytes (the tiered cache's values).
BOOST_AUTO_TEST_CASE(registered_blocks_are_shared_retained_and_evicted_oldest_first) {
  PagedKvCache cache(kShape, PagedKvCache::bytes_per_block(kShape, 4) * 4, 4);
  const SequenceId a = cache.add_sequence();
  BOOST_TEST(cache.append(a, 9) == 0);  // blocks 0, 1 full, 2 partial
  cache.register_block(a, 0, "h0");
  cache.register_block(a, 1, "h1");
  BOOST_CHECK_THROW(cache.register_block(a, 2, "h2"), ModelError);  // not full
  const SequenceId b = cache.add_sequence();
  BOOST_TEST(cache.share_block(b, "h0"));
  BOOST_TEST(!cache.share_block(b, "nope"));
  BOOST_TEST(cache.length(b) == 4);
  BOOST_TEST(cache.block_table(b)[0] == cache.block_table(a)[0]);
  BOOST_TEST(cache.free_blocks() == 1);
  cache.release(a);  // h0 still held by b; h1 retained; the partial block freed
  BOOST_TEST(cache.retained_blocks() == 1);
  BOOST_TEST(cache.free_blocks() == 3);
  cache.release(b);  // h0 retained too, released after h1
  BOOST_TEST(cache.retained_blocks() == 2);
  BOOST_TEST(cache.free_blocks() == 4);
  // Plain free blocks go first, then the retained block released longest ago (h1).
  const SequenceId c = cache.add_sequence();
  BOOST_TEST(cache.append(c, 12) == 0);
  BOOST_TEST(cache.has_block("h0"));
  BOOST_TEST(!cache.has_block("h1"));
  cache.release(c);
  cache.drop_retained();
  BOOST_TEST(!cache.has_block("h0"));
  BOOST_TEST(cache.retained_blocks() == 0);
  BOOST_TEST(cache.free_blocks() == 4);
}

// Per KV dtype: a block's bytes (dtype tag, then K and V rows of every layer as stored) come
// back exactly in another block; bytes of another size or another dtype are refused, even f16
// bytes offered to a bf16 cache (same size).
BOOST_AUTO_TEST_CASE(a_block_exported_and_loaded_keeps_every_byte) {
  for (KvDType t : {KvDType::F32, KvDType::BF16, KvDType::F16, KvDType::Q8}) {
    const KvCacheShape shape{2, 3, 4, t};
    PagedKvCache cache(shape, PagedKvCache::bytes_per_block(shape, 4) * 3, 4);
    const SequenceId a = cache.add_sequence();
    cache.append(a, 4);
    const int64_t block_bytes = 4 * 3 * kv_row_bytes(t, 4);
    for (int l = 0; l < shape.layers; ++l) {
      const PagedKvLayer kv = cache.layer(l);
      BOOST_TEST((kv.dtype == t));
      const int64_t base = cache.block_table(a)[0] * block_bytes;
      for (int64_t i = 0; i < block_bytes; ++i) {
        static_cast<char*>(kv.k)[base + i] = static_cast<char>(l * 100 + i);
        static_cast<char*>(kv.v)[base + i] = static_cast<char>(-l * 100 - i);
      }
    }
    const std::string bytes = cache.export_block(a, 0);
    BOOST_TEST(static_cast<int64_t>(bytes.size()) == 1 + cache.bytes_per_block());
    BOOST_TEST(bytes[0] == static_cast<char>(t));
    BOOST_TEST(bytes.substr(1, 3) == std::string("\x00\x01\x02", 3));  // layer 0's K first
    const SequenceId b = cache.add_sequence();
    BOOST_TEST(!cache.load_block(b, bytes.substr(1)));  // wrong size
    std::string other_dtype = bytes;
    other_dtype[0] = static_cast<char>(t == KvDType::BF16 ? KvDType::F16 : KvDType::BF16);
    BOOST_TEST(!cache.load_block(b, other_dtype));
    BOOST_TEST(cache.length(b) == 0);
    BOOST_TEST(cache.load_block(b, bytes));
    BOOST_TEST(cache.length(b) == 4);
    BOOST_TEST(cache.block_table(b)[0] != cache.block_table(a)[0]);
    BOOST_TEST(cache.export_block(b, 0) == bytes);
  }
}
