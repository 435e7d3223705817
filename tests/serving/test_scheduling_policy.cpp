// Scheduling policies on plain request lists: order, ageing, fairness, preemption victims.
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <vector>

#include "serving/scheduling_policy.h"

using pio::QueuedRequest;

namespace {
// Admits every waiting request in the policy's order at time now_s; returns their ids.
std::vector<uint64_t> admission_order(pio::SchedulingPolicy& p, std::vector<QueuedRequest> waiting, double now_s) {
  std::vector<uint64_t> order;
  while (!waiting.empty()) {
    const size_t i = p.next(waiting, now_s);
    p.admitted(waiting[i]);
    order.push_back(waiting[i].id);
    waiting.erase(waiting.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return order;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(scheduling_policy)

BOOST_AUTO_TEST_CASE(fcfs_serves_by_arrival_and_preempts_the_newest) {
  auto p = pio::make_policy("fcfs");
  const std::vector<QueuedRequest> rs{{1, "a", 5, 3.0}, {2, "b", -5, 1.0}, {3, "a", 0, 2.0}, {4, "c", 0, 1.0}};
  BOOST_TEST(admission_order(*p, rs, 10.0) == (std::vector<uint64_t>{2, 4, 3, 1}));
  BOOST_TEST(rs[p->victim(rs)].id == 1u);
}

BOOST_AUTO_TEST_CASE(priority_serves_lower_value_first_then_arrival) {
  auto p = pio::make_policy("priority", 1000.0);
  const std::vector<QueuedRequest> rs{{1, "a", 2, 0.0}, {2, "a", 0, 3.0}, {3, "a", 1, 1.0}, {4, "a", 0, 2.0}};
  BOOST_TEST(admission_order(*p, rs, 3.0) == (std::vector<uint64_t>{4, 2, 3, 1}));
  BOOST_TEST(rs[p->victim(rs)].id == 1u);  // the least urgent
}

BOOST_AUTO_TEST_CASE(priority_ageing_lets_an_old_request_overtake) {
  auto p = pio::make_policy("priority", 10.0);
  // Request 1 (priority 3) has waited 35 s: 3.5 levels of ageing make it more urgent than a
  // fresh priority-0 request; after only 25 s it is not yet.
  const std::vector<QueuedRequest> old_one{{1, "a", 3, 0.0}, {2, "b", 0, 35.0}};
  BOOST_TEST(old_one[p->next(old_one, 35.0)].id == 1u);
  const std::vector<QueuedRequest> younger{{1, "a", 3, 10.0}, {2, "b", 0, 35.0}};
  BOOST_TEST(younger[p->next(younger, 35.0)].id == 2u);
}

BOOST_AUTO_TEST_CASE(priority_never_starves_a_low_priority_request) {
  // A stream of urgent requests arrives every second; one low-priority request arrived first.
  auto p = pio::make_policy("priority", 5.0);
  std::vector<QueuedRequest> waiting{{0, "low", 10, 0.0}};
  int admitted_at = -1;
  for (int t = 1; t <= 200 && admitted_at < 0; ++t) {
    waiting.push_back({static_cast<uint64_t>(t), "high", 0, double(t)});
    const size_t i = p->next(waiting, double(t));
    if (waiting[i].id == 0) admitted_at = t;
    waiting.erase(waiting.begin() + static_cast<std::ptrdiff_t>(i));
  }
  // 10 levels of 5 s each: admitted once it has waited ~50 s, long before the loop ends.
  BOOST_TEST(admitted_at > 40);
  BOOST_TEST(admitted_at <= 51);
}

BOOST_AUTO_TEST_CASE(fair_round_robins_across_clients) {
  auto p = pio::make_policy("fair");
  // Client a floods first; b and c send later but are interleaved.
  std::vector<QueuedRequest> rs;
  for (uint64_t i = 0; i < 4; ++i) rs.push_back({i, "a", 0, double(i)});
  rs.push_back({10, "b", 0, 10.0});
  rs.push_back({11, "b", 0, 11.0});
  rs.push_back({20, "c", 0, 20.0});
  BOOST_TEST(admission_order(*p, rs, 30.0) == (std::vector<uint64_t>{0, 10, 20, 1, 11, 2, 3}));
}

BOOST_AUTO_TEST_CASE(fair_preempts_the_most_recently_served_client) {
  auto p = pio::make_policy("fair");
  const std::vector<QueuedRequest> rs{{1, "a", 0, 0.0}, {2, "b", 0, 1.0}, {3, "a", 0, 2.0}};
  admission_order(*p, rs, 3.0);  // a, b, a: client a was served last
  BOOST_TEST(rs[p->victim(rs)].id == 3u);
}

BOOST_AUTO_TEST_CASE(unknown_policy_is_refused) {
  BOOST_CHECK_THROW(pio::make_policy("lifo"), std::invalid_argument);
  BOOST_CHECK_THROW(pio::make_policy("priority", 0.0), std::invalid_argument);
  BOOST_TEST(pio::make_policy("fair")->name() == "fair");
}

BOOST_AUTO_TEST_SUITE_END()
