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

BOOST_AUTO_TEST_CASE(a_probed_prefix_is_skipped_and_its_blocks_counted) {
  BatchScheduler s({64, 4, 4, 10}, make_policy("fcfs"));
  s.set_prefix_probe([](uint64_t id) { return id == 1 ? int64_t{8} : int64_t{0}; });
  s.add({1, "c", 0, 0}, 10, 4);
  s.add({2, "c", 0, 1}, 10, 4);
  const StepPlan plan = s.plan(0);
  BOOST_REQUIRE(plan.items.size() == 2u);
  BOOST_TEST(plan.items[0].first == 8);
  BOOST_TEST(plan.items[0].count == 2);
  BOOST_TEST(plan.items[1].first == 0);
  BOOST_TEST(plan.items[1].count == 10);
  BOOST_TEST(s.used_blocks() == 6);  // 3 for each: the cached two count too
}

BOOST_AUTO_TEST_SUITE_END()
