// The KV block pool's bookkeeping: block tables, reference counts, the prefix-hash index and the
// retained blocks (no bytes: those are KvStorage's).
#define BOOST_TEST_MODULE kv_block_pool
#include <boost/test/unit_test.hpp>

#include <set>

#include "model/errors.h"
#include "model/kv_block_pool.h"

using namespace pio;

BOOST_AUTO_TEST_CASE(a_pool_needs_blocks_of_positive_size) {
  BOOST_CHECK_THROW(KvBlockPool(0, 4), ModelError);
  BOOST_CHECK_THROW(KvBlockPool(4, 0), ModelError);
  const KvBlockPool pool(5, 8);
  BOOST_TEST(pool.total_blocks() == 5);
  BOOST_TEST(pool.free_blocks() == 5);
  BOOST_TEST(pool.touched_blocks() == 0);
  BOOST_TEST(pool.blocks_needed(17) == 3);
}

BOOST_AUTO_TEST_CASE(sequences_take_blocks_as_they_grow_and_return_them) {
  KvBlockPool pool(6, 4);
  const SequenceId a = pool.add_sequence(), b = pool.add_sequence();
  BOOST_TEST(pool.append(a, 3) == 0);
  BOOST_TEST(pool.free_blocks() == 5);
  BOOST_TEST(pool.append(a, 1) == 3);  // still fits the first block
  BOOST_TEST(pool.free_blocks() == 5);
  BOOST_TEST(pool.append(a, 1) == 4);  // crosses into a second block
  BOOST_TEST(pool.free_blocks() == 4);
  BOOST_TEST(pool.append(b, 16) == 0);
  BOOST_TEST(pool.free_blocks() == 0);
  BOOST_TEST(pool.touched_blocks() == 6);
  std::set<int32_t> used;  // no block is shared between sequences
  for (int32_t block : pool.block_table(a)) used.insert(block);
  for (int32_t block : pool.block_table(b)) used.insert(block);
  BOOST_TEST(pool.block_table(a).size() == 2u);
  BOOST_TEST(used.size() == 6u);
  BOOST_TEST(pool.append(a, 4) == -1);  // no room: nothing changes
  BOOST_TEST(pool.length(a) == 5);
  BOOST_TEST(pool.append_block(a) == -1);  // no room, and a is not a whole number of blocks
  pool.release(b);
  BOOST_TEST(pool.free_blocks() == 4);
  BOOST_TEST(pool.append(a, 4) == 5);
  BOOST_CHECK_THROW(pool.length(b), ModelError);
  pool.release(b);  // an unknown sequence is ignored
}

BOOST_AUTO_TEST_CASE(a_fresh_block_is_appended_to_a_whole_number_of_blocks) {
  KvBlockPool pool(3, 4);
  const SequenceId a = pool.add_sequence();
  const int32_t block = pool.append_block(a);
  BOOST_TEST(block >= 0);
  BOOST_TEST(pool.length(a) == 4);
  BOOST_TEST(pool.block_table(a)[0] == block);
  BOOST_TEST(pool.free_blocks() == 2);
  pool.append(a, 1);
  BOOST_TEST(pool.append_block(a) == -1);  // length 5: not whole blocks
  BOOST_TEST(pool.length(a) == 5);
}

// Prefix caching: registered blocks are shared with reference counts, retained after release
// until the pool needs them, oldest release first.
BOOST_AUTO_TEST_CASE(registered_blocks_are_shared_retained_and_evicted_oldest_first) {
  KvBlockPool pool(4, 4);
  const SequenceId a = pool.add_sequence();
  BOOST_TEST(pool.append(a, 9) == 0);  // blocks 0, 1 full, 2 partial
  pool.register_block(a, 0, "h0");
  pool.register_block(a, 1, "h1");
  BOOST_CHECK_THROW(pool.register_block(a, 2, "h2"), ModelError);  // not full
  const SequenceId b = pool.add_sequence();
  BOOST_TEST(pool.share_block(b, "h0"));
  BOOST_TEST(!pool.share_block(b, "nope"));
  BOOST_TEST(pool.length(b) == 4);
  BOOST_TEST(pool.block_table(b)[0] == pool.block_table(a)[0]);
  BOOST_TEST(pool.free_blocks() == 1);
  pool.release(a);  // h0 still held by b; h1 retained; the partial block freed
  BOOST_TEST(pool.retained_blocks() == 1);
  BOOST_TEST(pool.free_blocks() == 3);
  pool.release(b);  // h0 retained too, released after h1
  BOOST_TEST(pool.retained_blocks() == 2);
  BOOST_TEST(pool.free_blocks() == 4);
  // A retained block shared again is in use again.
  const SequenceId d = pool.add_sequence();
  BOOST_TEST(pool.share_block(d, "h1"));
  BOOST_TEST(pool.retained_blocks() == 1);
  BOOST_TEST(pool.free_blocks() == 3);
  pool.release(d);  // h1 is now the newest release
  // Plain free blocks go first, then the retained block released longest ago (h0).
  const SequenceId c = pool.add_sequence();
  BOOST_TEST(pool.append(c, 12) == 0);
  BOOST_TEST(!pool.has_block("h0"));
  BOOST_TEST(pool.has_block("h1"));
  pool.release(c);
  pool.drop_retained();
  BOOST_TEST(!pool.has_block("h1"));
  BOOST_TEST(pool.retained_blocks() == 0);
  BOOST_TEST(pool.free_blocks() == 4);
}
