// Continuous batching on a simulated engine: chunked prefill under the token budget, decodes
// every step, KV block accounting, preemption and recompute, and a randomized run in which
// every request finishes with exactly its tokens.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <stdexcept>

#include "serving/batch_scheduler.h"

using namespace pio;

namespace {

QueuedRequest req(uint64_t id, double arrival = 0, int priority = 0, std::string client = "c") {
  return {id, std::move(client), priority, arrival};
}

const StepItem* item_of(const StepPlan& p, uint64_t id) {
  const auto it = std::find_if(p.items.begin(), p.items.end(), [&](const StepItem& i) { return i.id == id; });
  return it == p.items.end() ? nullptr : &*it;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(batch_scheduler)

BOOST_AUTO_TEST_CASE(prompt_is_chunked_then_decodes_one_token_per_step) {
  BatchScheduler s({8, 4, 4, 100}, make_policy("fcfs"));
  s.add(req(1), 20, 3);
  const int64_t firsts[] = {0, 8, 16};
  const int64_t counts[] = {8, 8, 4};
  for (int step = 0; step < 3; ++step) {
    const StepPlan p = s.plan(0);
    BOOST_REQUIRE(p.items.size() == 1u);
    BOOST_TEST(p.items[0].first == firsts[step]);
    BOOST_TEST(p.items[0].count == counts[step]);
    BOOST_TEST(p.items[0].sample == (step == 2));  // only the chunk that ends the prompt samples
    BOOST_TEST(s.step_done(p).empty());
  }
  BOOST_TEST(s.used_blocks() == 5);  // 20 tokens in blocks of 4
  for (int64_t decode = 0; decode < 2; ++decode) {
    const StepPlan p = s.plan(0);
    BOOST_REQUIRE(p.items.size() == 1u);
    BOOST_TEST(p.items[0].first == 20 + decode);
    BOOST_TEST(p.items[0].count == 1);
    BOOST_TEST(p.items[0].sample);
    const auto finished = s.step_done(p);
    BOOST_TEST(finished.size() == (decode == 1 ? 1u : 0u));  // 3 tokens: 1 from prefill + 2 decodes
  }
  BOOST_TEST(s.running() == 0u);
  BOOST_TEST(s.used_blocks() == 0);
}

BOOST_AUTO_TEST_CASE(a_long_prompt_never_stalls_decoding_sequences) {
  BatchScheduler s({16, 8, 16, 1000}, make_policy("fcfs"));
  s.add(req(1), 4, 100);
  s.add(req(2), 4, 100);
  s.step_done(s.plan(0));  // both prompts fit in one step
  s.add(req(3, 1.0), 500, 10);
  int steps_with_long_prefill = 0;
  int64_t long_left = 500;
  for (int step = 0; step < 40; ++step) {
    const StepPlan p = s.plan(1.0);
    BOOST_TEST(p.tokens() <= 16);
    BOOST_REQUIRE(item_of(p, 1));
    BOOST_REQUIRE(item_of(p, 2));
    BOOST_TEST(item_of(p, 1)->count == 1);
    if (const auto* long_one = item_of(p, 3); long_one && long_one->count > 1) {
      ++steps_with_long_prefill;
      BOOST_TEST(long_one->count == std::min<int64_t>(14, long_left));  // the budget after two decodes
      long_left -= long_one->count;
    }
    s.step_done(p);
  }
  BOOST_TEST(steps_with_long_prefill == 36);  // 500 = 35 full chunks of 14 + 10
  BOOST_TEST(long_left == 0);
}

BOOST_AUTO_TEST_CASE(admission_follows_the_policy) {
  BatchScheduler s({100, 1, 16, 100}, make_policy("priority", 1e9));
  s.add(req(1, 0.0, 5), 4, 1);
  s.add(req(2, 1.0, 0), 4, 1);
  s.add(req(3, 2.0, 3), 4, 1);
  std::vector<uint64_t> order;
  for (int i = 0; i < 3; ++i) {
    const StepPlan p = s.plan(3.0);
    BOOST_REQUIRE(p.items.size() == 1u);  // one sequence at a time
    order.push_back(p.items[0].id);
    s.step_done(p);
  }
  BOOST_TEST(order == (std::vector<uint64_t>{2, 3, 1}));
}

BOOST_AUTO_TEST_CASE(full_kv_pool_preempts_and_the_victim_recomputes_its_tokens) {
  // 4 blocks of 4 slots: two sequences of 6 prompt tokens take 2 blocks each. Admission keeps a
  // block free per running sequence, so the second prompt's last 2 tokens wait one step.
  BatchScheduler s({64, 4, 4, 4}, make_policy("fcfs"));
  s.add(req(1, 0.0), 6, 6);
  s.add(req(2, 1.0), 6, 6);
  s.step_done(s.plan(2.0));  // 1: prompt done, 7 known; 2: 4 of 6 prompt tokens
  s.step_done(s.plan(2.0));  // 1: 8 known; 2: prompt done, 7 known
  s.step_done(s.plan(2.0));  // 1: 9 known, slots 0..7 full; 2: 8 known
  BOOST_TEST(s.used_blocks() == 4);
  StepPlan p = s.plan(2.0);  // each needs a third block for slot 8; none is free
  BOOST_TEST(p.preempted == (std::vector<uint64_t>{2}));
  BOOST_REQUIRE(p.items.size() == 1u);
  BOOST_TEST(p.items[0].id == 1u);
  BOOST_TEST(s.waiting() == 1u);
  s.step_done(p);
  // Sequence 1 runs to its end (6 tokens), then 2 is readmitted and recomputes its 6 prompt
  // plus 2 generated tokens in one chunk that samples its third token.
  while (s.running() == 1 && s.waiting() == 1) s.step_done(s.plan(3.0));
  p = s.plan(3.0);
  const StepItem* resumed = item_of(p, 2);
  BOOST_REQUIRE(resumed);
  BOOST_TEST(resumed->first == 0);
  BOOST_TEST(resumed->count == 8);
  BOOST_TEST(resumed->sample);
}

// One owner of KV blocks: the plan's items carry block tables the scheduler took from its pool
// before the step, covering every slot the step writes, and no block is in two sequences.
BOOST_AUTO_TEST_CASE(a_plan_carries_block_tables_taken_before_the_step) {
  BatchScheduler s({64, 4, 4, 6}, make_policy("fcfs"));
  s.add(req(1, 0.0), 6, 4);
  s.add(req(2, 1.0), 9, 4);
  for (int step = 0; step < 4; ++step) {
    const StepPlan p = s.plan(2.0);
    std::set<int32_t> blocks;
    size_t held = 0;
    for (const StepItem& item : p.items) {
      BOOST_TEST(static_cast<int64_t>(item.blocks.size()) * 4 >= item.first + item.count);
      BOOST_TEST(s.pool().length(item.seq) == item.first + item.count);
      blocks.insert(item.blocks.begin(), item.blocks.end());
      held += item.blocks.size();
    }
    BOOST_TEST(blocks.size() == held);
    BOOST_TEST(s.used_blocks() == static_cast<int64_t>(held));
    s.step_done(p);
  }
}

BOOST_AUTO_TEST_CASE(finish_frees_blocks_wherever_the_sequence_is) {
  BatchScheduler s({8, 4, 4, 100}, make_policy("fcfs"));
  s.add(req(1), 20, 5);
  s.add(req(2), 4, 5);
  const StepPlan p = s.plan(0);
  s.finish(1);  // cancelled while its step ran: the step's result is ignored
  s.finish(2);
  BOOST_TEST(s.step_done(p).empty());
  BOOST_TEST(s.used_blocks() == 0);
  BOOST_TEST(s.running() + s.waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(refuses_what_can_never_fit) {
  BOOST_CHECK_THROW(BatchScheduler({4, 8, 16, 10}, make_policy("fcfs")), std::invalid_argument);
  BatchScheduler s({64, 4, 16, 10}, make_policy("fcfs"));
  BOOST_CHECK_THROW(s.add(req(1), 150, 20), std::invalid_argument);  // 170 > 160 slots
  BOOST_CHECK_THROW(s.add(req(1), 0, 20), std::invalid_argument);
  s.add(req(1), 140, 20);
}

BOOST_AUTO_TEST_CASE(randomized_load_finishes_every_request_exactly) {
  for (const char* policy : {"fcfs", "priority", "fair"}) {
    std::mt19937 rng(7);
    BatchScheduler s({48, 6, 8, 40}, make_policy(policy, 2.0));
    std::map<uint64_t, int64_t> wanted, got;
    uint64_t next_id = 0;
    for (int step = 0; step < 4000 && (next_id < 60 || s.running() + s.waiting() > 0); ++step) {
      if (next_id < 60 && rng() % 3 == 0) {
        const int64_t prompt = 1 + rng() % 120, out = 1 + rng() % 40;
        s.add(req(next_id, step, int(rng() % 4), "client" + std::to_string(rng() % 3)), prompt, out);
        wanted[next_id++] = out;
      }
      const StepPlan p = s.plan(step);
      BOOST_TEST(p.tokens() <= 48);
      BOOST_TEST(s.used_blocks() <= 40);
      for (const auto& item : p.items)
        if (item.sample) ++got[item.id];
      for (uint64_t id : p.preempted) got[id] = got[id];  // tokens stay generated: recompute keeps them
      s.step_done(p);
    }
    BOOST_TEST(s.running() + s.waiting() == 0u, policy);
    BOOST_TEST(got == wanted, policy);
  }
}

BOOST_AUTO_TEST_SUITE_END()
