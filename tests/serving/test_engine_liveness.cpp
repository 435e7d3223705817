// The engine group's liveness (issue 21, "the engine never sleeps with work queued"): driven the
// way the engine actor drives it (a step whenever has_work() holds, and only then), a random
// mix of arrivals, refusals, vision cache hits and misses, cancellations, preemptions and
// paused admission ends every request exactly once and leaves no sequence and no KV block
// behind. The actor's loop rule lives in EngineGroup::has_work(), so this exercises it.
#include <boost/test/unit_test.hpp>

#include <map>
#include <random>
#include <set>

#include "model/model.h"
#include "model/image/preprocess.h"
#include "serving/chat_request.h"
#include "serving/engine_group.h"
#include "serving/vision_cache.h"
#include "tests/support/tiny_checkpoint.h"
#include "tests/vision/vision_support.h"

using namespace pio;

namespace {

struct Harness {
  std::unique_ptr<Backend> backend = make_cpu_backend(1);
  Model model{test::tiny_checkpoint(), *backend};
  std::shared_ptr<const Tokenizer> tokenizer = load_tokenizer(test::tiny_checkpoint());
  std::shared_ptr<TieredCache> store = std::make_shared<TieredCache>(TieredCacheOptions{});
  std::unique_ptr<KvStorage> kv;
  std::unique_ptr<EngineGroup> group;
  std::map<uint64_t, int> finals;  // id -> final events seen
  std::set<uint64_t> added;
  std::set<uint64_t> live;         // added and not yet ended
  double now = 0;

  explicit Harness(int64_t kv_blocks) {
    const KvCacheShape shape = model.text().kv_shape();
    kv = std::make_unique<KvStorage>(model.text().backend(), shape, kv_blocks * KvStorage::bytes_per_block(shape, 16), 16);
    EngineGroupOptions options;
    options.max_batch_tokens = 32;
    options.max_sequences = 4;
    options.target_step_ms = 50;
    group = std::make_unique<EngineGroup>(model, tokenizer, *kv, options, store);
  }

  void record(const StreamEvent& e) {
    BOOST_REQUIRE_MESSAGE(added.count(e.request_id), "an event for an unknown request " << e.request_id);
    BOOST_REQUIRE_MESSAGE(!finals.count(e.request_id), "an event after request " << e.request_id << "'s final one");
    if (!e.final) return;
    finals[e.request_id] = 1;
    live.erase(e.request_id);
  }

  // The engine actor's loop: a step while has_work() holds (at most `steps` of them here, so
  // other arrivals interleave).
  void drive(int steps) {
    for (int i = 0; i < steps && group->has_work(); ++i) {
      now += 0.01;
      for (const auto& e : group->step(now)) record(e);
    }
  }

  // A job: `prompt` text tokens after an optional image (a fresh one, or the one whose
  // features the store already holds).
  void add(uint64_t id, int64_t prompt, int32_t max_tokens, int image, uint32_t seed) {
    EngineJob job;
    job.id = id;
    job.client_id = "c" + std::to_string(id % 3);
    job.max_tokens = max_tokens;
    job.sampling = {0.8f, 0, 1.0f, seed};
    const auto& cfg = model.config();
    if (image) {
      job.ids = {cfg.vision_start_token_id, cfg.image_token_id, cfg.vision_end_token_id};
      job.images.push_back(vtest::random_image(*cfg.vision, 1, 4, 4, image == 1 ? 7 : seed));
      job.image_keys.push_back(image == 1 ? "img/shared" : "img/fresh" + std::to_string(id));
    }
    for (int64_t i = 0; i < prompt; ++i) job.ids.push_back(static_cast<int32_t>(100 + (seed + i * 13) % 5000));
    added.insert(id);
    live.insert(id);
    try {
      group->add(std::move(job), now);
    } catch (const std::exception&) {  // refused at once: the actor answers with an error event
      finals[id] = 1;
      live.erase(id);
    }
  }
};

// A w x h 24-bit BMP with a pattern (BMP rows bottom-up, each padded to 4 bytes).
std::vector<uint8_t> bmp(int w, int h) {
  const int row = (w * 3 + 3) / 4 * 4;
  const auto u32 = [](std::vector<uint8_t>& b, uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  std::vector<uint8_t> b{'B', 'M'};
  u32(b, static_cast<uint32_t>(54 + row * h));
  u32(b, 0);
  u32(b, 54);
  u32(b, 40);
  u32(b, static_cast<uint32_t>(w));
  u32(b, static_cast<uint32_t>(h));
  b.insert(b.end(), {1, 0, 24, 0});
  for (int i = 0; i < 6; ++i) u32(b, i == 1 ? static_cast<uint32_t>(row * h) : 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < row; ++x) b.push_back(static_cast<uint8_t>((x * 7 + y * 13) % 256));
  return b;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(engine_liveness)

BOOST_AUTO_TEST_CASE(a_moved_request_whose_streamed_ids_already_end_it_finishes_at_once) {
  // Its worker was lost between its last token and its final event: nothing is left to compute.
  auto backend = make_cpu_backend(1);
  Model model{test::tiny_checkpoint(), *backend};
  std::shared_ptr<const Tokenizer> tokenizer = load_tokenizer(test::tiny_checkpoint());
  KvStorage kv(model.text().backend(), model.text().kv_shape(), 8 << 20, 16);
  EngineGroup group(model, tokenizer, kv, EngineGroupOptions{});
  EngineJob at_length;
  at_length.id = 1;
  at_length.ids = {100, 101, 102};
  at_length.max_tokens = 3;
  at_length.resume_ids = {200, 201, 202};
  EngineJob at_stop = at_length;
  at_stop.id = 2;
  at_stop.max_tokens = 50;
  at_stop.resume_ids = {200, model.stop_ids().front()};
  EngineJob going_on = at_stop;
  going_on.id = 3;
  going_on.resume_ids = {200, 201};
  going_on.max_tokens = 4;
  group.add(at_length, 0);
  group.add(at_stop, 0);
  group.add(going_on, 0);
  BOOST_TEST(group.has_work());
  std::map<uint64_t, StreamEvent> finals;
  std::map<uint64_t, size_t> generated;
  for (int step = 0; group.has_work(); ++step) {
    BOOST_REQUIRE(step < 100);
    for (const auto& e : group.step(step)) {
      generated[e.request_id] += e.token_ids.size();
      if (e.final) finals[e.request_id] = e;
    }
    if (step == 0) BOOST_TEST(finals.size() == 2u);  // the complete two end at the first step
  }
  BOOST_TEST(finals.at(1).finish_reason == "length");
  BOOST_TEST(finals.at(1).usage.completion_tokens == 3);
  BOOST_TEST(finals.at(2).finish_reason == "stop");
  BOOST_TEST(generated[1] + generated[2] == 0u);  // no token computed again
  BOOST_TEST(finals.at(3).finish_reason == "length");
  BOOST_TEST(finals.at(3).usage.completion_tokens == 4);
  BOOST_TEST(generated[3] == 2u);  // the two it had left
  BOOST_TEST(group.load().kv_blocks_used == 0);
}

BOOST_AUTO_TEST_CASE(an_image_that_comes_as_its_file_is_preprocessed_in_the_group_with_the_same_answer) {
  // What a worker in another process gets: the file, its grid and the limits, no pixels.
  auto backend = make_cpu_backend(1);
  Model model{test::tiny_checkpoint(), *backend};
  std::shared_ptr<const Tokenizer> tokenizer = load_tokenizer(test::tiny_checkpoint());
  const PreprocessorConfig pcfg = load_preprocessor_config(test::tiny_checkpoint());
  const std::vector<uint8_t> file = bmp(56, 40);
  const ImageLimits limits = request_image_limits(pcfg, 40000, 0);
  const auto answer = [&](EngineJob job) {
    KvStorage kv(model.text().backend(), model.text().kv_shape(), 8 << 20, 16);
    EngineGroupOptions options;
    options.preprocessor = pcfg;
    EngineGroup group(model, tokenizer, kv, options);
    group.add(std::move(job), 0);
    StreamEvent last;
    std::vector<int32_t> ids;
    for (int step = 0; group.has_work(); ++step) {
      BOOST_REQUIRE(step < 500);
      for (const auto& e : group.step(step)) {
        ids.insert(ids.end(), e.token_ids.begin(), e.token_ids.end());
        if (e.final) last = e;
      }
    }
    last.token_ids = ids;
    return last;
  };
  const auto& cfg = model.config();
  EngineJob job;
  job.id = 1;
  job.ids = {cfg.vision_start_token_id, cfg.image_token_id, cfg.vision_end_token_id, 100, 101};
  job.max_tokens = 6;
  job.images = {preprocess_image(file, pcfg, limits)};
  const StreamEvent with_pixels = answer(job);
  BOOST_TEST(with_pixels.error.message.empty());
  BOOST_TEST(with_pixels.token_ids.size() == 6u);
  job.images[0].data = {};
  job.image_files = {file};
  job.image_limits = limits;
  BOOST_TEST(answer(job).token_ids == with_pixels.token_ids);
  job.image_files = {{}};  // neither: a clear error, not a crash
  const StreamEvent neither = answer(job);
  BOOST_TEST(neither.finish_reason == "error");
  BOOST_TEST(neither.error.message.find("neither its pixels nor its file") != std::string::npos, neither.error.message);
}

BOOST_AUTO_TEST_CASE(a_refused_cache_hit_image_does_not_strand_the_jobs_behind_it) {
  Harness h(8);  // 128 KV slots
  h.add(1, 4, 2, 1, 1);  // encodes and stores the shared image
  h.drive(1000);
  BOOST_REQUIRE(h.finals.count(1));
  h.add(2, 400, 4, 1, 2);  // the cached image and a prompt the KV cache can never hold: refused
  h.add(3, 400, 4, 1, 3);
  h.add(4, 2, 3, 1, 4);    // the cached image and "hi"
  h.drive(1000);
  BOOST_TEST(h.live.empty(), h.live.size() << " requests never ended");
  BOOST_TEST(!h.group->has_work());
}

BOOST_AUTO_TEST_CASE(random_arrivals_refusals_cancellations_and_preemptions_all_end) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      Harness h(10);
      std::mt19937 rng(seed);
      const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
      uint64_t next = 1;
      for (int op = 0; op < 60; ++op) {
        switch (pick(8)) {
          case 0:
          case 1:  // text: mostly fits, sometimes can never fit the KV cache
            h.add(next++, pick(6) == 0 ? 200 + pick(100) : 1 + pick(40), 1 + pick(12), 0, rng());
            break;
          case 2:  // the shared image (a cache hit once encoded), sometimes with an oversized prompt
            h.add(next++, pick(4) == 0 ? 300 : 1 + pick(20), 1 + pick(8), 1, rng());
            break;
          case 3:  // a fresh image
            h.add(next++, 1 + pick(10), 1 + pick(6), 2, rng());
            break;
          case 4:
            if (!h.live.empty()) {
              auto it = h.live.begin();
              std::advance(it, pick(static_cast<int>(h.live.size())));
              if (auto e = h.group->cancel(*it)) h.record(*e);
            }
            break;
          case 5: h.group->preempt_one(); break;
          case 6: h.group->set_admitting(pick(3) != 0); break;
          default: break;
        }
        h.drive(pick(4));
      }
      h.group->set_admitting(true);
      h.drive(100000);
      BOOST_TEST(h.live.empty(), h.live.size() << " requests never ended");
      BOOST_TEST(!h.group->has_work());
      const EngineLoad load = h.group->load();
      BOOST_TEST(load.running == 0);
      BOOST_TEST(load.waiting == 0);
      BOOST_TEST(load.kv_blocks_used == 0);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
