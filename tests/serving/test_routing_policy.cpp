// The cluster router's policies: round robin by id across joins and leaves, least loaded with
// its tie-breaks, and prefix affinity (longest leading run of block keys, images included,
// overload fallback, a bounded memory, departed workers forgotten).
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "serving/prefix_hash.h"
#include "serving/routing_policy.h"

using namespace pio;

namespace {

using Keys = std::vector<std::string>;

WorkerView worker(uint32_t id, int64_t in_flight = 0, int64_t running = 0, int64_t waiting = 0,
                  int64_t kv_free = 0, int64_t kv_total = 0) {
  WorkerView w;
  w.id = id;
  w.in_flight = in_flight;
  w.running = running;
  w.waiting = waiting;
  w.kv_blocks_free = kv_free;
  w.kv_blocks_total = kv_total;
  return w;
}

std::vector<uint32_t> choices(RoutingPolicy& p, const std::vector<WorkerView>& ws, int n) {
  std::vector<uint32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(p.choose(ws, {}));
  return out;
}

// The block-hash chain of the same text around one image (block size 4), as the prefix cache
// computes it, for the image named `image_key`.
Keys image_prompt_keys(const std::string& image_key) {
  constexpr int32_t IMG = 151655;
  const std::vector<int32_t> ids{1, 2, 3, 4, IMG, IMG, IMG, IMG, 5, 6, 7, 8, 9};
  PrefixHasher h(4, IMG, {image_key});
  h.extend(ids);
  return h.hashes();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(routing_policy)

BOOST_AUTO_TEST_CASE(round_robin_cycles_by_id_across_joins_and_leaves) {
  auto p = make_routing_policy("round_robin");
  BOOST_TEST(p->name() == "round_robin");
  // Load is ignored; the order of the views is not the order of the cycle.
  BOOST_TEST(choices(*p, {worker(2), worker(0, 50), worker(1)}, 4) == (std::vector<uint32_t>{0, 1, 2, 0}));
  // Worker 3 joins after 0 was chosen: the cycle goes on from 1 and takes 3 in its turn.
  BOOST_TEST(choices(*p, {worker(0), worker(1), worker(2), worker(3)}, 4) == (std::vector<uint32_t>{1, 2, 3, 0}));
  // Worker 1, the next in turn, leaves: the next id after 0 is 2.
  BOOST_TEST(choices(*p, {worker(0), worker(2), worker(3)}, 1) == (std::vector<uint32_t>{2}));
  // 3 leaves and 4 joins: after 2 comes 4, then the cycle wraps.
  BOOST_TEST(choices(*p, {worker(4), worker(0), worker(2)}, 3) == (std::vector<uint32_t>{4, 0, 2}));
  // The last chosen worker left and it was the highest id: wrap to the lowest.
  BOOST_TEST(choices(*p, {worker(0), worker(1)}, 1) == (std::vector<uint32_t>{0}));
}

BOOST_AUTO_TEST_CASE(least_loaded_picks_the_lowest_score_and_breaks_ties) {
  auto p = make_routing_policy("least_loaded");
  BOOST_TEST(p->name() == "least_loaded");
  // The router's own count.
  BOOST_TEST(p->choose({worker(0, 3), worker(1, 1), worker(2, 2)}, {}) == 1u);
  // A report showing more work than the router placed there counts (max of the two).
  BOOST_TEST(p->choose({worker(0, 1), worker(1, 0, 2, 1)}, {}) == 0u);
  BOOST_TEST(load_score(worker(1, 0, 2, 1)) == 3);
  BOOST_TEST(load_score(worker(1, 5, 2, 1)) == 5);
  // Equal scores: the fuller KV cache loses.
  BOOST_TEST(p->choose({worker(0, 2, 0, 0, 10, 100), worker(1, 2, 0, 0, 90, 100)}, {}) == 1u);
  // Equal in everything (a worker without a KV report counts as empty): the lowest id, wherever it is.
  BOOST_TEST(p->choose({worker(5, 1), worker(3, 1), worker(4, 1)}, {}) == 3u);
  BOOST_TEST(p->choose({worker(1, 1, 0, 0, 100, 100), worker(0, 1)}, {}) == 0u);
  // Stateless: the same views give the same choice.
  BOOST_TEST(p->choose({worker(5, 1), worker(3, 1), worker(4, 1)}, {}) == 3u);
}

BOOST_AUTO_TEST_CASE(affinity_follows_the_longest_leading_run) {
  auto p = make_routing_policy("prefix_affinity");
  BOOST_TEST(p->name() == "prefix_affinity");
  const std::vector<WorkerView> ws{worker(0), worker(1, 1), worker(2, 2)};
  p->placed(1, {"a"});
  p->placed(2, {"a", "b", "c"});
  BOOST_TEST(p->choose(ws, {"a", "b", "c", "d"}) == 2u);  // run 3 on worker 2, though busiest
  BOOST_TEST(p->choose(ws, {"a", "b"}) == 2u);
  // Equal runs: the less loaded of the holders (not worker 0, which holds nothing).
  BOOST_TEST(p->choose(ws, {"a", "x"}) == 1u);
  // A key only counts after its whole lead: "b" and "c" without "a" match nothing.
  BOOST_TEST(p->choose(ws, {"z", "b", "c"}) == 0u);
  // No keys, or no match: least loaded.
  BOOST_TEST(p->choose(ws, {}) == 0u);
  BOOST_TEST(p->choose(ws, {"q"}) == 0u);
  // A holder that is not among the workers offered is not chosen.
  BOOST_TEST(p->choose({worker(0), worker(1, 1)}, {"a", "b", "c"}) == 1u);
}

BOOST_AUTO_TEST_CASE(affinity_tells_prompts_apart_by_their_images) {
  const Keys cat = image_prompt_keys("img/cat"), dog = image_prompt_keys("img/dog");
  BOOST_TEST_REQUIRE(cat.size() == 3u);
  BOOST_TEST(cat[0] == dog[0]);  // the same text before the image
  BOOST_TEST(cat[1] != dog[1]);  // the block holding the image differs
  BOOST_TEST(cat[2] != dog[2]);  // and so does the same text after it
  auto p = make_routing_policy("prefix_affinity");
  p->placed(0, cat);
  p->placed(1, dog);
  // Each prompt goes where its image's blocks are, whichever worker is less loaded.
  BOOST_TEST(p->choose({worker(0, 2), worker(1, 1)}, cat) == 0u);
  BOOST_TEST(p->choose({worker(0, 1), worker(1, 2)}, dog) == 1u);
  BOOST_TEST(p->choose({worker(0, 2), worker(1, 1)}, image_prompt_keys("img/cat")) == 0u);
  // A new picture behind the same text matches only the text: the less loaded of the two holders.
  BOOST_TEST(p->choose({worker(0, 2), worker(1, 1), worker(2, 0)}, image_prompt_keys("img/owl")) == 1u);
}

BOOST_AUTO_TEST_CASE(an_overloaded_holder_gives_way_to_the_least_loaded) {
  PrefixAffinityPolicy p(1024, 4);
  p.placed(0, {"a", "b"});
  // Four requests more than the least-loaded worker is still within bounds.
  BOOST_TEST(p.choose({worker(0, 5), worker(1, 1), worker(2, 3)}, {"a", "b"}) == 0u);
  // Five more is overloaded: the least-loaded worker takes it.
  BOOST_TEST(p.choose({worker(0, 6), worker(1, 1), worker(2, 3)}, {"a", "b"}) == 1u);
  // The worker's reported queue counts too.
  BOOST_TEST(p.choose({worker(0, 0, 2, 3), worker(1, 1)}, {"a", "b"}) == 0u);
  BOOST_TEST(p.choose({worker(0, 0, 2, 4), worker(1, 1)}, {"a", "b"}) == 1u);
  // Once placed there too, the prompt's blocks are on both: the less loaded holder wins.
  p.placed(1, {"a", "b"});
  BOOST_TEST(p.choose({worker(0, 2), worker(1, 3), worker(2)}, {"a", "b"}) == 0u);
  BOOST_TEST(p.choose({worker(0, 3), worker(1, 2), worker(2)}, {"a", "b"}) == 1u);
  // max_excess 0: any load above the least-loaded's is overload.
  PrefixAffinityPolicy strict(1024, 0);
  strict.placed(0, {"a"});
  BOOST_TEST(strict.choose({worker(0, 1), worker(1, 1)}, {"a"}) == 0u);
  BOOST_TEST(strict.choose({worker(0, 2), worker(1, 1)}, {"a"}) == 1u);
}

BOOST_AUTO_TEST_CASE(the_memory_is_bounded_and_drops_the_least_recent_first) {
  PrefixAffinityPolicy p(3);
  p.placed(1, {"x"});
  p.placed(2, {"y"});
  p.placed(1, {"x"});  // refreshed: now newer than "y"
  p.placed(2, {"z", "w"});
  BOOST_TEST(p.remembered() == 3u);
  BOOST_TEST(p.matched(2, {"y"}) == 0u);  // the least recent went
  BOOST_TEST(p.matched(1, {"x"}) == 1u);
  BOOST_TEST(p.matched(2, {"z", "w"}) == 2u);
  p.placed(2, {"v"});
  BOOST_TEST(p.remembered() == 3u);
  BOOST_TEST(p.matched(1, {"x"}) == 0u);
  // What was dropped no longer attracts requests: the least-loaded worker takes it.
  BOOST_TEST(p.choose({worker(0), worker(1, 1), worker(2, 1)}, {"x"}) == 0u);
  // A prompt longer than the bound keeps its head, the part other prompts can share.
  PrefixAffinityPolicy q(3);
  q.placed(1, {"a", "b", "c", "d", "e"});
  BOOST_TEST(q.remembered() == 3u);
  BOOST_TEST(q.matched(1, {"a", "b", "c", "d", "e"}) == 3u);
  // The same pair placed twice is one entry.
  q.placed(1, {"a"});
  BOOST_TEST(q.remembered() == 3u);
  BOOST_TEST(q.matched(1, {"a", "b", "c"}) == 3u);
}

BOOST_AUTO_TEST_CASE(a_worker_that_left_is_forgotten) {
  PrefixAffinityPolicy p;
  p.placed(1, {"a", "b"});
  p.placed(2, {"a"});
  p.left(1);
  BOOST_TEST(p.matched(1, {"a", "b"}) == 0u);
  BOOST_TEST(p.matched(2, {"a"}) == 1u);  // the others keep theirs
  BOOST_TEST(p.remembered() == 1u);
  BOOST_TEST(p.choose({worker(0), worker(1), worker(2, 1)}, {"a", "b"}) == 2u);
  p.left(2);
  BOOST_TEST(p.remembered() == 0u);
  BOOST_TEST(p.choose({worker(0, 1), worker(1), worker(2)}, {"a", "b"}) == 1u);
  p.left(7);  // never joined: nothing happens
}

BOOST_AUTO_TEST_CASE(unknown_names_and_bad_bounds_are_refused) {
  BOOST_CHECK_EXCEPTION(make_routing_policy("random"), std::invalid_argument, [](const std::invalid_argument& e) {
    const std::string what = e.what();
    return what.find("random") != std::string::npos && what.find("round_robin") != std::string::npos &&
           what.find("least_loaded") != std::string::npos && what.find("prefix_affinity") != std::string::npos;
  });
  BOOST_CHECK_THROW(make_routing_policy(""), std::invalid_argument);
  BOOST_CHECK_THROW(PrefixAffinityPolicy(0), std::invalid_argument);
  BOOST_CHECK_THROW(PrefixAffinityPolicy(16, -1), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
