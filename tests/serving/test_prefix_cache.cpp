// Prefix caching's plain parts: the block hash chain and the scheduler starting a sequence past
// its cached prefix.
#include <boost/test/unit_test.hpp>

#include "serving/batch_scheduler.h"
#include "serving/prefix_hash.h"

using namespace pio;

namespace {
constexpr int32_t IMG = 151655;
}

BOOST_AUTO_TEST_SUITE(prefix_cache)

BOOST_AUTO_TEST_CASE(equal_prefixes_give_equal_hashes_and_images_count_by_key) {
  const std::vector<int32_t> ids{1, 2, 3, 4, IMG, IMG, IMG, IMG, 5, 6, 7};
  PrefixHasher a(4, IMG, {"img/a"}), b(4, IMG, {"img/a"}), other_image(4, IMG, {"img/b"}), no_key(4, IMG, {""});
  a.extend(ids);
  BOOST_TEST(a.hashes().size() == 2u);  // the partial third block is not hashed
  b.extend(std::span(ids).first(6));  // grown in two calls
  b.extend(ids);
  BOOST_TEST(b.hashes() == a.hashes());
  other_image.extend(ids);
  BOOST_TEST(other_image.hashes()[0] == a.hashes()[0]);
  BOOST_TEST(other_image.hashes()[1] != a.hashes()[1]);
  no_key.extend(ids);
  BOOST_TEST(no_key.hashes().size() == 1u);  // the chain stops at an image nobody can name
  // The chain: a changed first block changes every later hash.
  PrefixHasher c(4, IMG, {"img/a"});
  std::vector<int32_t> changed = ids;
  changed[0] = 9;
  c.extend(changed);
  BOOST_TEST(c.hashes()[1] != a.hashes()[1]);
}

BOOST_AUTO_TEST_CASE(an_attached_prefix_is_skipped_and_its_blocks_counted) {
  BatchScheduler s({64, 4, 4, 10}, make_policy("fcfs"));
  s.set_prefix_attach([&s](uint64_t id, SequenceId seq) {
    if (id == 1) s.pool().append(seq, 8);  // two cached blocks, as shared or loaded ones are
  });
  s.add({1, "c", 0, 0}, 10, 4);
  s.add({2, "c", 0, 1}, 10, 4);
  const StepPlan plan = s.plan(0);
  BOOST_REQUIRE(plan.items.size() == 2u);
  BOOST_TEST(plan.items[0].first == 8);
  BOOST_TEST(plan.items[0].count == 2);
  BOOST_TEST(plan.items[1].first == 0);
  BOOST_TEST(plan.items[1].count == 10);
  BOOST_TEST(s.used_blocks() == 6);  // 3 for each: the cached two count too
  // The plan carries each item's block table, whole for the slots it writes.
  BOOST_TEST(plan.items[0].blocks.size() == 3u);
  BOOST_TEST(plan.items[1].blocks.size() == 3u);
  BOOST_TEST(s.pool().length(plan.items[0].seq) == 10);
  // A sequence not admitted after all gives its attached blocks back.
  BatchScheduler full({64, 4, 4, 3}, make_policy("fcfs"));
  full.set_prefix_attach([&full](uint64_t, SequenceId seq) { full.pool().append(seq, 4); });
  full.add({1, "c", 0, 0}, 8, 4);
  full.add({2, "c", 0, 1}, 8, 4);
  const StepPlan first = full.plan(0);
  BOOST_REQUIRE(first.items.size() == 1u);  // 2 cannot keep a block free for 1's decode
  BOOST_TEST(full.used_blocks() == 2);
  BOOST_TEST(full.waiting() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
