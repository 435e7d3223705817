// The engine core against the model layer's own generate(): the same tokens for every request,
// whatever else runs in its steps, however its prompt is chunked, and after preemption.
#include <boost/test/unit_test.hpp>

#include <map>

#include "model/generate.h"
#include "model/model_weights.h"
#include "model/text_model.h"
#include "model/vision_model.h"
#include "model/prompt.h"
#include "serving/engine_core.h"
#include "serving/prefix_keys.h"
#include "tests/serving/engine_scenario.h"
#include "tests/support/temp_dir.h"
#include "tests/vision/vision_support.h"

using namespace pio;

namespace {

const ModelConfig kIds;

int64_t tier_hits(const TieredCache& store, const std::string& tier) {
  for (const auto& t : store.stats())
    if (t.tier == tier) return t.hits;
  return -1;
}
const int32_t VS = kIds.vision_start_token_id, IMG = kIds.image_token_id, VE = kIds.vision_end_token_id;

// The tiny f32 checkpoint on the CPU, and the requests of engine_scenario.h over it.
struct TinyOnCpu {
  std::unique_ptr<Backend> backend = make_cpu_backend(2);
  const ModelWeights weights{vtest::tiny(DType::F32).dir.path()};
};
struct Fixture : TinyOnCpu, test::EngineScenario {
  Fixture() : EngineScenario(TinyOnCpu::weights, *TinyOnCpu::backend) {}
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(engine_core, Fixture)

BOOST_AUTO_TEST_CASE(eight_concurrent_requests_each_equal_their_answer_alone) {
  KvStorage cache(text.backend(), text.kv_shape(), 1 << 24, 4);
  EngineCore engine(text, weights.config(), cache, {32, 8}, make_policy("fcfs"), 0);
  const auto rs = eight_requests();
  for (const auto& r : rs) engine.submit(r);
  std::map<uint64_t, FinishReason> reasons;
  int64_t max_sequences = 0;
  const auto out = run(engine, &reasons, &max_sequences);
  BOOST_TEST(max_sequences > 1);  // they really shared steps
  for (const auto& r : rs) {
    BOOST_TEST(out.at(r.queue.id) == alone(r), "request " << r.queue.id);
    BOOST_TEST((reasons.at(r.queue.id) == FinishReason::length));
  }
  BOOST_TEST(engine.pool().free_blocks() == engine.pool().total_blocks());
}

// Log-probabilities ride with each sampled token: the chosen id's (the most likely one when
// greedy), equal bit for bit to the request's alone in its own engine (batch invariance), and
// asking for them (or biasing logits) changes nothing else; requests that did not ask get none.
BOOST_AUTO_TEST_CASE(logprobs_come_with_each_token_and_equal_the_request_alone) {
  auto rs = eight_requests();
  for (auto& r : rs) {
    if (r.queue.id % 2 == 0) continue;
    r.sampling.logprobs = true;
    r.sampling.top_logprobs = 3;
  }
  rs[0].sampling.logit_bias = {{alone(rs[0])[0], -100.0f}};  // the greedy first token is banned
  const auto collect = [&](const std::vector<EngineRequest>& batch) {
    KvStorage cache(text.backend(), text.kv_shape(), 1 << 24, 4);
    EngineCore engine(text, weights.config(), cache, {32, 8}, make_policy("fcfs"), 0);
    for (const auto& r : batch) engine.submit(r);
    std::map<uint64_t, std::vector<TokenEvent>> out;
    for (int step = 0; !engine.idle(); ++step) {
      BOOST_REQUIRE(step < 2000);
      for (auto& e : engine.step(step)) out[e.id].push_back(std::move(e));
    }
    return out;
  };
  const auto together = collect(rs);
  for (const auto& r : rs) {
    const auto& events = together.at(r.queue.id);
    const auto by_itself = collect({r}).at(r.queue.id);
    std::vector<int32_t> tokens;
    for (size_t i = 0; i < events.size(); ++i) {
      const TokenEvent& e = events[i];
      tokens.push_back(e.token);
      BOOST_TEST_REQUIRE(e.logprobs.has_value() == r.sampling.logprobs);
      if (!e.logprobs) continue;
      BOOST_TEST(e.logprobs->chosen.id == e.token);
      BOOST_TEST(e.logprobs->top.size() == 3u);
      if (r.sampling.temperature <= 0) BOOST_TEST(e.logprobs->top[0].id == e.token);
      BOOST_TEST(e.logprobs->chosen.logprob == by_itself[i].logprobs->chosen.logprob, "request " << r.queue.id);
      for (size_t k = 0; k < 3; ++k) BOOST_TEST(e.logprobs->top[k].logprob == by_itself[i].logprobs->top[k].logprob);
    }
    BOOST_TEST(tokens == alone(r), "request " << r.queue.id);
  }
  BOOST_TEST(together.at(1).front().token != alone(eight_requests()[0]).front());
}

BOOST_AUTO_TEST_CASE(preempted_requests_recompute_and_answer_the_same) {
  // 28 blocks of 4 slots cannot hold all eight at once: some are preempted and recomputed.
  KvStorage cache(text.backend(), text.kv_shape(), 28 * KvStorage::bytes_per_block(text.kv_shape(), 4), 4);
  EngineCore engine(text, weights.config(), cache, {64, 8}, make_policy("fcfs"), 0);
  const auto rs = eight_requests();
  for (const auto& r : rs) engine.submit(r);
  bool preempted = false;
  const auto out = run(engine, nullptr, nullptr, &preempted);
  BOOST_TEST(preempted);
  for (const auto& r : rs) BOOST_TEST(out.at(r.queue.id) == alone(r), "request " << r.queue.id);
  BOOST_TEST(engine.pool().free_blocks() == engine.pool().total_blocks());
}

BOOST_AUTO_TEST_CASE(a_request_resumed_from_its_streamed_ids_continues_exactly) {
  // A request moved off a lost worker: another engine prefills the prompt plus the ids already
  // streamed and generates the rest, greedy and seeded alike, equal to the undisturbed answer.
  for (const auto& r : eight_requests()) {
    const std::vector<int32_t> whole = alone(r);
    for (const size_t streamed : {size_t{1}, whole.size() / 2, whole.size() - 1}) {
      KvStorage cache(text.backend(), text.kv_shape(), 1 << 24, 4);
      EngineCore engine(text, weights.config(), cache, {32, 8}, make_policy("fcfs"), 0);
      EngineRequest moved = r;
      moved.resumed.assign(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(streamed));
      engine.submit(moved);
      std::vector<int32_t> out = moved.resumed;
      const auto rest = run(engine);
      out.insert(out.end(), rest.at(r.queue.id).begin(), rest.at(r.queue.id).end());
      BOOST_TEST(out == whole, "request " << r.queue.id << " resumed after " << streamed);
    }
  }
  KvStorage cache(text.backend(), text.kv_shape(), 1 << 24, 4);
  EngineCore engine(text, weights.config(), cache, {32, 8}, make_policy("fcfs"), 0);
  EngineRequest done = request(1, {1, 2, 3}, nullptr, 2, 0.0f);
  done.resumed = {5, 6};
  BOOST_CHECK_THROW(engine.submit(done), std::invalid_argument);  // nothing left to generate
}

BOOST_AUTO_TEST_CASE(stop_ids_end_a_request_and_cancel_frees_its_blocks) {
  KvStorage cache(text.backend(), text.kv_shape(), 1 << 24, 4);
  EngineCore engine(text, weights.config(), cache, {32, 8}, make_policy("fcfs"), 0);
  EngineRequest r = request(1, {1, 2, 3, 4, 5}, nullptr, 12, 0.0f);
  const auto full = alone(r);
  r.stop_ids = {full[3]};
  engine.submit(r);
  engine.submit(request(2, {7, 8, 9}, nullptr, 50, 0.0f));
  std::vector<int32_t> got;
  FinishReason reason = FinishReason::none;
  for (int step = 0; step < 100 && reason == FinishReason::none; ++step)
    for (const auto& e : engine.step(step))
      if (e.id == 1) got.push_back(e.token), reason = e.finish;
  const auto first_stop = std::find(full.begin(), full.end(), full[3]);
  BOOST_TEST(got == std::vector<int32_t>(full.begin(), first_stop + 1));
  BOOST_TEST((reason == FinishReason::stop));
  BOOST_TEST(engine.cancel(2));
  BOOST_TEST(!engine.cancel(2));
  BOOST_TEST(engine.idle());
  BOOST_TEST(engine.pool().free_blocks() == engine.pool().total_blocks());
}

// A default max_tokens (the client named none: clip_max_tokens) is lowered to what the KV cache
// holds beside the prompt, 16 slots here; a named one that does not fit is refused as before.
BOOST_AUTO_TEST_CASE(a_default_max_tokens_is_lowered_to_what_the_kv_cache_holds) {
  KvStorage cache(text.backend(), text.kv_shape(), 4 * KvStorage::bytes_per_block(text.kv_shape(), 4), 4);
  EngineCore engine(text, weights.config(), cache, {32, 8}, make_policy("fcfs"), 0);
  BOOST_CHECK_THROW(engine.submit(request(1, {1, 2, 3, 4, 5}, nullptr, 50, 0.0f)), std::invalid_argument);
  EngineRequest defaulted = request(2, {1, 2, 3, 4, 5}, nullptr, 50, 0.0f);
  defaulted.clip_max_tokens = true;
  engine.submit(defaulted);
  std::map<uint64_t, FinishReason> reasons;
  const auto out = run(engine, &reasons);
  BOOST_TEST(out.at(2) == alone(request(2, {1, 2, 3, 4, 5}, nullptr, 11, 0.0f)));  // 16 - 5 slots
  BOOST_TEST((reasons.at(2) == FinishReason::length));
  BOOST_TEST(engine.pool().free_blocks() == engine.pool().total_blocks());
  // A prompt that fills the cache alone is refused naming the prompt, not a max_tokens never sent.
  EngineRequest full = request(3, std::vector<int32_t>(16, 7), nullptr, 50, 0.0f);
  full.clip_max_tokens = true;
  try {
    engine.submit(full);
    BOOST_FAIL("a prompt of 16 tokens in 16 slots was taken");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()) == "16 prompt tokens leave no room in the KV cache's 16 slots: send a shorter prompt");
  }
}

// Prefix caching (a tiered cache as the store): a request sharing a prefix with an earlier one
// starts past the prefix's full blocks, from the pool or, in a new engine, from the store, and
// every answer equals the uncached one exactly; under preemption too.
BOOST_AUTO_TEST_CASE(prefix_cached_answers_equal_uncached_ones_in_this_engine_and_the_next) {
  test::TempDir dir("engine-prefix");
  auto store = std::make_shared<TieredCache>(TieredCacheOptions{dir.path(), "fp", 1 << 24, 1 << 26, 1 << 26});
  std::vector<int32_t> prefix{VS, IMG, VE};
  for (int32_t i = 0; i < 21; ++i) prefix.push_back(300 + i);
  auto with = [&](uint64_t id, std::vector<int32_t> tail, float temperature) {
    std::vector<int32_t> ids = prefix;
    ids.insert(ids.end(), tail.begin(), tail.end());
    EngineRequest r = request(id, ids, wide, 6, temperature);
    r.image_keys = {"img/wide"};
    return r;
  };
  const EngineRequest first = with(1, {7, 8}, 0.0f), second = with(2, {9, 10, 11}, 0.8f);
  // The expanded prompts (6 image tokens) share 29 tokens: 7 full blocks of 4.
  const int64_t shared = 28;
  const auto answer = [&](EngineCore& engine, const EngineRequest& r, int64_t& cached) {
    engine.submit(r);
    std::vector<int32_t> tokens;
    for (int step = 0; !engine.idle(); ++step) {
      BOOST_REQUIRE(step < 500);
      for (const auto& e : engine.step(step)) {
        BOOST_REQUIRE(e.finish != FinishReason::error);
        tokens.push_back(e.token);
        cached = e.cached_tokens;
      }
    }
    return tokens;
  };
  int64_t cached = -1;
  {
    KvStorage cache(text.backend(), text.kv_shape(), 1 << 24, 4);
    EngineCore engine(text, weights.config(), cache, {8, 8}, make_policy("fcfs"), 0, store);
    BOOST_TEST(answer(engine, first, cached) == alone(first));
    BOOST_TEST(cached == 0);
    BOOST_TEST(answer(engine, second, cached) == alone(second));
    BOOST_TEST(cached == shared);  // from the pool's retained blocks
    BOOST_TEST(engine.pool().retained_blocks() > 0);
    BOOST_TEST(engine.pool().free_blocks() == engine.pool().total_blocks());
  }
  store->flush();  // every block written to disk, none left in memory
  const int64_t warm_hits = tier_hits(*store, "warm");
  {
    // A new engine never reads the disk itself: blocks found only there are computed again.
    KvStorage cache(text.backend(), text.kv_shape(), 1 << 24, 4);
    EngineCore engine(text, weights.config(), cache, {8, 8}, make_policy("fcfs"), 0, store);
    BOOST_TEST(answer(engine, second, cached) == alone(second));
    BOOST_TEST(cached == 0);
    BOOST_TEST(tier_hits(*store, "warm") == warm_hits);
  }
  // Prefetched first (as the supervisor does, off the engine's thread), they come from the store.
  EngineJob job;
  job.ids = second.ids;
  job.images = {vtest::random_image(vcfg, 1, 4, 6, 1)};  // wide's grid
  job.image_keys = second.image_keys;
  BOOST_TEST(store->prefetch(prefix_block_keys(job, weights.config(), 4)) > 0u);
  BOOST_TEST(tier_hits(*store, "warm") > warm_hits);
  KvStorage cache(text.backend(), text.kv_shape(), 1 << 24, 4);
  EngineCore engine(text, weights.config(), cache, {8, 8}, make_policy("fcfs"), 0, store);
  BOOST_TEST(answer(engine, second, cached) == alone(second));
  BOOST_TEST(cached == shared);  // its last prompt block cannot be (its last token is computed)
  // Without image keys the chain stops at the image: nothing past it is shared.
  EngineRequest unnamed = with(3, {9, 10, 11}, 0.0f);
  unnamed.image_keys.clear();
  BOOST_TEST(answer(engine, unnamed, cached) == alone(unnamed));
  BOOST_TEST(cached == 0);
}

// prefix_block_keys() names, from the job alone, the blocks the engine stores; prefetched into
// hot, they reach a new engine without a disk read in its step.
BOOST_AUTO_TEST_CASE(prefix_block_keys_name_the_blocks_the_engine_stores) {
  test::TempDir dir("engine-prefix-keys");
  const TieredCacheOptions options{dir.path(), "fp", 1 << 24, 1 << 26, 1 << 26};
  std::vector<int32_t> ids{VS, IMG, VE};
  for (int32_t i = 0; i < 21; ++i) ids.push_back(300 + i);
  ids.insert(ids.end(), {7, 8});  // 31 tokens expanded: 7 full blocks before the last token's
  EngineRequest r = request(1, ids, wide, 3, 0.0f);
  r.image_keys = {"img/wide"};
  EngineJob job;
  job.ids = ids;
  job.images = {vtest::random_image(vcfg, 1, 4, 6, 1)};  // wide's grid
  job.image_keys = r.image_keys;
  const std::vector<std::string> keys = prefix_block_keys(job, weights.config(), 4);
  BOOST_TEST(keys.size() == 7u);
  int64_t cached = -1;
  const auto run_alone = [&](const std::shared_ptr<TieredCache>& store, uint64_t id) {
    KvStorage cache(text.backend(), text.kv_shape(), 1 << 24, 4);
    EngineCore engine(text, weights.config(), cache, {8, 8}, make_policy("fcfs"), 0, store);
    EngineRequest again = r;
    again.queue.id = id;
    engine.submit(again);
    for (int step = 0; !engine.idle(); ++step) {
      BOOST_REQUIRE(step < 500);
      for (const auto& e : engine.step(step)) cached = e.cached_tokens;
    }
  };
  {
    auto store = std::make_shared<TieredCache>(options);
    for (const auto& k : keys) BOOST_TEST(!store->contains(k));
    run_alone(store, 1);
    for (const auto& k : keys) BOOST_TEST(store->contains(k), k);
  }
  auto store = std::make_shared<TieredCache>(options);  // a restart: every block on disk only
  BOOST_TEST(store->prefetch(keys) == keys.size());
  const int64_t warm_hits = tier_hits(*store, "warm");
  run_alone(store, 2);
  BOOST_TEST(cached == 28);
  BOOST_TEST(tier_hits(*store, "warm") == warm_hits);  // the engine read nothing from disk
  // A job whose image has no cache key names nothing past it.
  job.image_keys = {""};
  BOOST_TEST(prefix_block_keys(job, weights.config(), 4).empty());
}

// KV replicas: a request told to replicate copies every full block of its prompt and output as
// its steps fill them, a bounded number per step, once each (a preemption between copies none
// twice). Kept in another engine's store (as a replica worker keeps them), they let the request,
// moved there with its streamed ids, start past all of them, and it answers exactly as if
// undisturbed; prefix_block_keys() names those blocks from the moved job alone.
BOOST_AUTO_TEST_CASE(a_replicated_request_resumes_past_its_copied_blocks_and_answers_the_same) {
  test::TempDir primary_dir("engine-replica-primary"), replica_dir("engine-replica");
  const auto store = [](const test::TempDir& dir) {
    return std::make_shared<TieredCache>(TieredCacheOptions{dir.path(), "fp", 1 << 24, 1 << 26, 1 << 26});
  };
  auto primary_store = store(primary_dir), replica_store = store(replica_dir);
  std::vector<int32_t> ids{VS, IMG, VE};
  for (int32_t i = 0; i < 21; ++i) ids.push_back(300 + i);
  ids.insert(ids.end(), {7, 8});  // 31 tokens expanded
  EngineRequest r = request(1, ids, wide, 12, 0.8f);
  r.image_keys = {"img/wide"};
  const std::vector<int32_t> whole = alone(r);

  KvStorage primary_kv(text.backend(), text.kv_shape(), 1 << 24, 4);
  EngineCore primary(text, weights.config(), primary_kv, {8, 8}, make_policy("fcfs"), 0, primary_store);
  primary.set_replica_bytes_per_step(2 * primary_kv.bytes_per_block());
  primary.submit(r);
  BOOST_TEST(!primary.replicate(99));
  BOOST_TEST(primary.replicate(1));
  BOOST_TEST(primary.take_replica_blocks().empty());  // nothing computed yet
  std::vector<int32_t> streamed;
  std::vector<std::string> copied;
  bool preempted = false;
  const auto step = [&](int at) {
    std::vector<int32_t> tokens;
    for (const auto& e : primary.step(at)) tokens.push_back(e.token);
    std::vector<KvBlocks> out = primary.take_replica_blocks();
    BOOST_TEST(out.size() <= 1u);
    for (const auto& blocks : out) {
      BOOST_TEST(blocks.job == 1u);
      BOOST_TEST(blocks.keys.size() <= 2u);  // the bound per step
      BOOST_REQUIRE(blocks.keys.size() == blocks.blocks.size());
    }
    return std::make_pair(tokens, out);
  };
  for (int at = 0; streamed.size() < 6; ++at) {
    BOOST_REQUIRE(at < 100);
    if (at == 5) preempted = primary.preempt_one().has_value();  // readmitted with its retained blocks
    auto [tokens, out] = step(at);
    streamed.insert(streamed.end(), tokens.begin(), tokens.end());
    for (auto& blocks : out)
      for (size_t i = 0; i < blocks.keys.size(); ++i) {
        copied.push_back(blocks.keys[i]);
        replica_store->put(blocks.keys[i], blocks.blocks[i]);
      }
  }
  BOOST_TEST(preempted);
  // 31 prompt tokens and 5 of the 6 streamed ones are computed: 9 full blocks of 4, each copied once.
  BOOST_TEST(copied.size() == 9u);
  BOOST_TEST(primary.replicate(1));  // a new replica: from the first block again, from the next step
  BOOST_TEST(primary.take_replica_blocks().empty());
  auto [extra, again] = step(100);
  BOOST_REQUIRE(again.size() == 1u);
  BOOST_TEST(again[0].keys == std::vector<std::string>(copied.begin(), copied.begin() + 2));
  BOOST_TEST(primary.replicate(1, false));  // stopped: nothing more
  BOOST_TEST(step(101).second.empty());
  BOOST_TEST(primary.cancel(1));

  EngineJob job;
  job.ids = ids;
  job.images = {vtest::random_image(vcfg, 1, 4, 6, 1)};  // wide's grid
  job.image_keys = r.image_keys;
  job.resume_ids = streamed;
  BOOST_TEST(prefix_block_keys(job, weights.config(), 4) == copied);

  const auto resume = [&](const std::shared_ptr<TieredCache>& at, int64_t& cached) {
    KvStorage kv(text.backend(), text.kv_shape(), 1 << 24, 4);
    EngineCore replica(text, weights.config(), kv, {8, 8}, make_policy("fcfs"), 0, at);
    EngineRequest moved = r;
    moved.resumed = streamed;
    replica.submit(moved);
    std::vector<int32_t> out = streamed;
    for (int at_step = 0; !replica.idle(); ++at_step) {
      BOOST_REQUIRE(at_step < 500);
      for (const auto& e : replica.step(at_step)) {
        out.push_back(e.token);
        cached = e.cached_tokens;
      }
    }
    return out;
  };
  int64_t cached = -1;
  BOOST_TEST(resume(replica_store, cached) == whole);
  BOOST_TEST(cached == 36);  // every copied block; only the last streamed token is computed
  test::TempDir empty_dir("engine-replica-none");
  BOOST_TEST(resume(store(empty_dir), cached) == whole);  // no copies: all of it computed again
  BOOST_TEST(cached == 0);
}

BOOST_AUTO_TEST_CASE(preempted_requests_with_prefix_caching_answer_the_same) {
  test::TempDir dir("engine-prefix-preempt");
  auto store = std::make_shared<TieredCache>(TieredCacheOptions{dir.path(), "fp", 1 << 24, 1 << 26, 1 << 26});
  KvStorage cache(text.backend(), text.kv_shape(), 28 * KvStorage::bytes_per_block(text.kv_shape(), 4), 4);
  EngineCore engine(text, weights.config(), cache, {64, 8}, make_policy("fcfs"), 0, store);
  auto rs = eight_requests();
  for (auto& r : rs)
    if (r.images) r.image_keys = {r.images == wide ? "img/wide" : "img/tall"};
  for (int round = 0; round < 2; ++round) {  // the second round finds every prompt cached
    for (auto r : rs) {
      r.queue.id += 100 * static_cast<uint64_t>(round);
      engine.submit(r);
    }
    bool preempted = false;
    const auto out = run(engine, nullptr, nullptr, &preempted);
    for (const auto& r : rs) BOOST_TEST(out.at(r.queue.id + 100 * static_cast<uint64_t>(round)) == alone(r), "request " << r.queue.id);
  }
  BOOST_TEST(engine.pool().free_blocks() == engine.pool().total_blocks());
}

BOOST_AUTO_TEST_SUITE_END()
