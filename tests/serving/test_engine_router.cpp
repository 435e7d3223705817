// The router's bookkeeping: workers join and leave at any time, placements follow the policy
// among the workers that take jobs, a worker that leaves names the jobs it held, a draining one
// gets no new jobs, reports sum into the node's load.
#include <boost/test/unit_test.hpp>

#include <stdexcept>

#include "serving/engine_router.h"

using pio::EngineRouter;
using pio::make_routing_policy;

BOOST_AUTO_TEST_SUITE(engine_router)

BOOST_AUTO_TEST_CASE(no_worker_places_nothing_until_one_joins) {
  EngineRouter r(make_routing_policy("least_loaded"));
  BOOST_TEST(!r.accepting());
  BOOST_TEST(!r.place(1, {}));
  const uint32_t w = r.join("a");
  BOOST_TEST(w == 1u);
  BOOST_TEST(r.accepting());
  BOOST_TEST(*r.place(1, {}) == w);
  BOOST_TEST(*r.place(1, {}) == w);  // placed once
  BOOST_TEST(r.workers().at(0).in_flight == 1);
  BOOST_CHECK_THROW(EngineRouter(nullptr), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_leaving_worker_names_its_jobs_and_ids_are_never_reused) {
  EngineRouter r(make_routing_policy("least_loaded"));
  const uint32_t a = r.join("a"), b = r.join("b");
  for (uint64_t job = 1; job <= 6; ++job) r.place(job, {});
  std::vector<uint64_t> on_b;
  for (uint64_t job = 1; job <= 6; ++job)
    if (r.worker_of(job) == b) on_b.push_back(job);
  BOOST_TEST(on_b.size() == 3u);  // least loaded alternates
  r.ended(on_b.front());
  on_b.erase(on_b.begin());
  BOOST_TEST(r.leave(b) == on_b);
  BOOST_TEST(!r.has_worker(b));
  BOOST_TEST(!r.worker_of(on_b.back()));
  BOOST_TEST(*r.place(7, {}) == a);
  BOOST_TEST(r.join("b again") == 3u);
}

BOOST_AUTO_TEST_CASE(a_draining_worker_gets_no_new_jobs_and_reports_sum) {
  EngineRouter r(make_routing_policy("least_loaded"));
  const uint32_t a = r.join("a"), b = r.join("b");
  r.drain(a);
  for (uint64_t job = 1; job <= 3; ++job) BOOST_TEST(*r.place(job, {}) == b);
  r.drain(b);
  BOOST_TEST(!r.accepting());
  BOOST_TEST(!r.place(4, {}));
  pio::WorkerReport ra, rb;
  ra.load.running = 2;
  ra.load.kv_blocks_total = 10;
  rb.load.running = 3;
  rb.load.kv_blocks_total = 20;
  r.report(a, ra);
  r.report(b, rb);
  BOOST_TEST(r.total_load().running == 5);
  BOOST_TEST(r.total_load().kv_blocks_total == 30);
  r.leave(a);
  BOOST_TEST(r.total_load().running == 3);  // a worker that left no longer counts
}

BOOST_AUTO_TEST_SUITE_END()
