// KV replicas' plan, and the router that follows it: every placement gets a replica worker other
// than its own as soon as one takes jobs; a replica that leaves or drains is replaced (and the
// primary starts over); a job whose primary is lost moves to its replica.
#include <boost/test/unit_test.hpp>

#include "serving/engine_router.h"
#include "serving/kv_replicas.h"

using pio::EngineRouter;
using pio::KvReplicaPlan;
using Order = KvReplicaPlan::Order;
using Orders = std::vector<Order>;

namespace boost::test_tools::tt_detail {
template <>
struct print_log_value<Order> {
  void operator()(std::ostream& os, const Order& o) { os << "{primary " << o.primary << ", job " << o.job << "}"; }
};
}  // namespace boost::test_tools::tt_detail

BOOST_AUTO_TEST_SUITE(kv_replicas)

BOOST_AUTO_TEST_CASE(a_job_waits_for_a_second_worker_then_gets_the_least_loaded_other) {
  KvReplicaPlan plan;
  BOOST_TEST(!plan.placed(10, 1, {1}));  // alone: no replica yet
  BOOST_TEST(!plan.replica_of(10));
  BOOST_TEST((plan.joined({2, 1}) == Orders{{1, 10}}));
  BOOST_TEST(*plan.replica_of(10) == 2u);
  BOOST_TEST(plan.joined({3, 2, 1}).empty());  // it has one
  BOOST_TEST((*plan.placed(11, 3, {3, 2, 1}) == Order{3, 11}));
  BOOST_TEST(*plan.replica_of(11) == 2u);  // the first of by_load that is not the primary
  plan.ended(11);
  BOOST_TEST(!plan.replica_of(11));
  BOOST_TEST(plan.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_replica_that_drains_or_leaves_is_replaced_and_the_primary_starts_over) {
  KvReplicaPlan plan;
  plan.placed(10, 1, {1, 2, 3});
  plan.placed(11, 3, {1, 2, 3});
  BOOST_TEST(*plan.replica_of(10) == 2u);
  BOOST_TEST(*plan.replica_of(11) == 1u);
  BOOST_TEST((plan.draining(2, {1, 3}) == Orders{{1, 10}}));
  BOOST_TEST(*plan.replica_of(10) == 3u);
  // Job 11 loses its replica and no other worker can take it: its primary stops copying. Job 10
  // loses its primary.
  BOOST_TEST((plan.left(1, {3}) == Orders{{3, 11, false}}));
  BOOST_TEST(!plan.replica_of(11));
  BOOST_TEST(!plan.replica_of(10));  // orphaned: only takeover() names it
  BOOST_TEST((plan.joined({4, 3}) == Orders{{3, 11}}));
  BOOST_TEST(*plan.takeover(10) == 3u);
  BOOST_TEST(!plan.takeover(10));  // forgotten
  BOOST_TEST(!plan.takeover(11));  // its primary is alive
}

BOOST_AUTO_TEST_CASE(a_job_whose_primary_and_replica_are_both_lost_is_forgotten) {
  KvReplicaPlan plan;
  plan.placed(10, 1, {1, 2});
  plan.left(1, {2});
  plan.left(2, {});
  BOOST_TEST(!plan.takeover(10));
  BOOST_TEST(plan.size() == 0u);
}

// A report with cache tiers: the worker can keep copies.
pio::WorkerReport with_cache(int64_t running) {
  pio::WorkerReport report;
  report.load.running = running;
  report.cache.push_back({"hot", 0, 0, 0, 0, 0, 0, 0, 0});
  return report;
}

BOOST_AUTO_TEST_CASE(the_router_moves_a_lost_workers_job_to_its_replica_whatever_the_policy) {
  EngineRouter r(pio::make_routing_policy("round_robin"), true);
  const uint32_t a = r.join("a");
  BOOST_TEST(*r.place(1, {}) == a);
  BOOST_TEST(r.take_replica_orders().empty());
  const uint32_t b = r.join("b"), c = r.join("c");
  BOOST_TEST((r.take_replica_orders() == Orders{{a, 1}}));  // b joined: it holds job 1's copy
  BOOST_TEST(*r.replica_of(1) == b);
  BOOST_TEST(*r.place(2, {}) == b);  // round robin's turn: b, so c is next
  r.take_replica_orders();
  r.report(b, with_cache(9));  // busy, yet it holds job 1's blocks
  r.report(c, with_cache(0));
  BOOST_TEST(r.leave(a) == std::vector<uint64_t>{1});
  BOOST_TEST(*r.place(100, {}, 1) == b);  // round robin (and the load) would take c
  BOOST_TEST((r.take_replica_orders() == Orders{{b, 100}}));
  BOOST_TEST(*r.replica_of(100) == c);
  r.ended(100);
  BOOST_TEST(!r.replica_of(100));
  // Without replicas nothing is ordered and a move follows the policy.
  EngineRouter plain(pio::make_routing_policy("least_loaded"));
  plain.join("x");
  plain.place(1, {});
  plain.join("y");
  BOOST_TEST(plain.take_replica_orders().empty());
  BOOST_TEST(!plain.replica_of(1));
}

BOOST_AUTO_TEST_CASE(a_worker_without_a_cache_keeps_no_copies) {
  EngineRouter r(pio::make_routing_policy("least_loaded"), true);
  const uint32_t a = r.join("a"), b = r.join("b"), c = r.join("c");
  r.place(1, {});
  BOOST_TEST(*r.replica_of(1) == b);
  r.take_replica_orders();
  r.report(b, pio::WorkerReport{});  // no cache tiers (--no-cache): job 1's copies go to c
  BOOST_TEST((r.take_replica_orders() == Orders{{a, 1}}));
  BOOST_TEST(*r.replica_of(1) == c);
  r.report(c, pio::WorkerReport{});  // nobody else can: a stops copying
  BOOST_TEST((r.take_replica_orders() == Orders{{a, 1, false}}));
  BOOST_TEST(!r.replica_of(1));
  r.report(b, with_cache(0));  // b has a cache after all: a candidate again at the next change
  r.join("d");
  BOOST_TEST((r.take_replica_orders() == Orders{{a, 1}}));
  BOOST_TEST(*r.replica_of(1) == b);  // least loaded among b and d: the lower id
}

BOOST_AUTO_TEST_CASE(a_move_whose_replica_no_longer_takes_jobs_follows_the_policy) {
  EngineRouter r(pio::make_routing_policy("least_loaded"), true);
  const uint32_t a = r.join("a"), b = r.join("b"), c = r.join("c");
  r.place(1, {});
  BOOST_TEST(*r.worker_of(1) == a);
  BOOST_TEST(*r.replica_of(1) == b);
  r.take_replica_orders();
  r.leave(a);
  r.drain(b);
  BOOST_TEST(*r.place(2, {}, 1) == c);
}

BOOST_AUTO_TEST_CASE(blocks_cross_in_bounded_messages_in_order) {
  pio::KvBlocks blocks{7, {"a", "b", "c", "d"}, {std::string(3, 'a'), std::string(3, 'b'), std::string(9, 'c'), "d"}};
  const auto parts = pio::split_kv_blocks(blocks, 6);
  BOOST_REQUIRE(parts.size() == 3u);  // a+b, c alone (over the bound), d
  BOOST_TEST((parts[0].keys == std::vector<std::string>{"a", "b"}));
  BOOST_TEST((parts[1].keys == std::vector<std::string>{"c"}));
  BOOST_TEST(parts[1].blocks[0] == std::string(9, 'c'));
  BOOST_TEST((parts[2].keys == std::vector<std::string>{"d"}));
  for (const auto& p : parts) BOOST_TEST(p.job == 7u);
  BOOST_TEST(pio::split_kv_blocks({7, {}, {}}, 6).empty());
  BOOST_CHECK_THROW(pio::split_kv_blocks(blocks, 0), std::invalid_argument);
  BOOST_CHECK_THROW(pio::split_kv_blocks({7, {"a"}, {}}, 6), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
