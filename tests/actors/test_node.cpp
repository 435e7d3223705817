// The node in this process, through pio::Client: answers equal the model layer's generate()
// (greedy and sampled, with and without images), concurrent requests are batched and still
// equal their answers alone, and the supervisor's duties: memory thresholds (waiting,
// preemption with unchanged output, refusal), a killed engine restarted, a failed device's
// work moved to the CPU, deadlines, cancellation and a client that goes away, each freeing its
// KV blocks.
#define BOOST_TEST_MODULE node
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <caf/scoped_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/client.h"
#include "actors/node.h"
#include "model/generate.h"
#include "model/image/preprocess.h"
#include "model/prompt.h"
#include "model/text_model.h"
#include "model/vision_model.h"
#include "serving/chat_request.h"
#include "storage/tiered_cache.h"
#include "tests/support/device_memory_backend.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_checkpoint.h"

using namespace pio;
using namespace std::chrono_literals;

namespace {

const std::filesystem::path& tiny_dir() { return test::tiny_checkpoint(); }

std::vector<uint8_t> image_bytes(const std::string& repo_path) {
  return read_image_file(std::filesystem::path(PIO_REPO_DIR) / repo_path);
}

ChatRequest chat(const std::string& text, std::vector<std::vector<uint8_t>> images, int max_tokens, float temperature,
                 uint64_t seed) {
  ChatRequest r;
  r.client_id = "test";
  ChatTurn user{"user", {}};
  for (auto& img : images) user.parts.push_back({"", std::move(img), true});
  user.parts.push_back({text, {}, false});
  r.messages.push_back(std::move(user));
  r.max_tokens = max_tokens;
  r.sampling = {temperature, 0, 1.0f, seed};
  return r;
}

struct Fixture {
  std::unique_ptr<Backend> backend = make_cpu_backend(2);
  std::shared_ptr<const ModelWeights> weights = std::make_shared<const ModelWeights>(tiny_dir());
  std::shared_ptr<const Tokenizer> tokenizer = load_tokenizer(tiny_dir());
  std::atomic<double> memory{0};  // what the supervisor sees as memory in use (MiB)

  NodeSettings settings() {
    NodeSettings s;
    s.engine.weights = weights;
    s.engine.backend = backend.get();
    s.engine.tokenizer = tokenizer;
    s.engine.kv_bytes = 64 << 20;
    s.engine.kv_block_size = 16;
    s.engine.options.max_batch_tokens = 64;
    s.engine.options.max_sequences = 16;
    s.engine.options.target_step_ms = 1000;
    s.preprocessor = load_preprocessor_config(tiny_dir());
    s.max_pixels = 40000;
    s.memory_mb = [this] { return memory.load(); };
    s.tick_s = 0.01;
    return s;
  }

  // The model layer's answer: the same prompt through generate() with the model's stop ids, on
  // runners of its own over the weights the node's engine group reads, on a backend of its own.
  std::unique_ptr<Backend> direct_backend = make_cpu_backend(2);
  TextModel direct_text{*weights, *direct_backend};
  VisionModel direct_vision{*weights, *direct_backend};
  std::vector<int32_t> direct(const ChatRequest& r) { return direct_on(*weights, direct_text, direct_vision, r); }
  // The answers over other weights `w` (the same checkpoint in another format), in order.
  std::vector<std::vector<int32_t>> direct_on(const ModelWeights& w, const std::vector<ChatRequest>& rs) {
    TextModel text(w, *direct_backend);
    VisionModel vision(w, *direct_backend);
    std::vector<std::vector<int32_t>> answers;
    for (const auto& r : rs) answers.push_back(direct_on(w, text, vision, r));
    return answers;
  }
  // One answer on runners over other weights `w`.
  std::vector<int32_t> direct_on(const ModelWeights& w, TextModel& text, VisionModel& vision, const ChatRequest& r) {
    const PromptTokens tokens = tokenize_chat(*tokenizer, r);
    std::vector<PixelValues> pixels;
    const auto cfg = load_preprocessor_config(tiny_dir());
    for (const auto& turn : r.messages)
      for (const auto& part : turn.parts)
        if (part.is_image) pixels.push_back(preprocess_image(part.image, cfg, request_image_limits(cfg, 40000, 0)));
    std::optional<ImageFeatures> features;
    if (!pixels.empty()) features = encode_images(vision, pixels);
    PagedKvCache cache(text.backend(), text.kv_shape(), 64 << 20, 16);
    const PreparedPrompt p = prepare_prompt(text, w.config(), tokens.ids, features ? &*features : nullptr);
    return generate(text, cache, p, {r.max_tokens, w.stop_ids(), r.sampling, static_cast<int32_t>(tokenizer->vocab_size()), {}})
        .tokens;
  }
};

ChatResult wait(std::future<ChatResult>& f) {
  BOOST_REQUIRE(f.wait_for(120s) == std::future_status::ready);
  return f.get();
}

// A "device" (DeviceMemoryBackend: the CPU's kernels over memory of its own) that a test makes
// fail, the tiny checkpoint loaded as a device reads it, and node settings whose engine group
// computes on the device with the fixture's CPU backend as its fallback.
struct FailingDevice {
  test::DeviceMemoryBackend backend{2};
  std::shared_ptr<const ModelWeights> weights =
      std::make_shared<const ModelWeights>(tiny_dir(), options_for(ModelOptions{}, backend));
  NodeSettings settings(NodeSettings s, Backend& fallback) {
    s.engine.weights = weights;
    s.engine.backend = &backend;
    s.engine.fallback = &fallback;
    return s;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(node, Fixture)

BOOST_AUTO_TEST_CASE(answers_equal_the_model_layer_greedy_and_sampled_with_and_without_images) {
  const std::vector<ChatRequest> requests{
      chat("Hello there, who are you?", {}, 12, 0.0f, 0),
      chat("Tell me a story.", {}, 12, 0.9f, 42),
      chat("Describe this image.", {image_bytes("assets/demo.jpg")}, 10, 0.0f, 0),
      chat("Compare them.", {image_bytes("assets/demo.jpg"), image_bytes("tests/data/image/pillow/rgb_128x128.png")}, 10, 0.8f, 7)};
  std::vector<std::vector<int32_t>> wants;
  for (const auto& r : requests) wants.push_back(direct(r));
  Node node(settings());
  Client client(node);
  for (size_t i = 0; i < requests.size(); ++i) {
    const ChatRequest& r = requests[i];
    auto f = client.complete(r);
    const ChatResult got = wait(f);
    const auto& want = wants[i];
    BOOST_TEST(got.token_ids == want);
    BOOST_TEST(got.text == tokenizer->decode(want, SpecialTokens::skip));
    BOOST_TEST(got.usage.completion_tokens == static_cast<int64_t>(want.size()));
    BOOST_TEST(got.usage.prompt_tokens > 0);
    BOOST_TEST((got.finish_reason == "stop" || got.finish_reason == "length"));
  }
}

BOOST_AUTO_TEST_CASE(tools_and_raw_prompts_reach_the_model_as_rendered) {
  ChatRequest with_tools = chat("Weather in Paris?", {}, 8, 0.0f, 0);
  with_tools.tools = {R"({"type": "function", "function": {"name": "get_weather", "parameters": {}}})"};
  ChatRequest raw;  // /v1/completions: the same ids, no chat template
  raw.prompt_ids = tokenize_chat(*tokenizer, with_tools).ids;
  raw.max_tokens = 8;
  // The tool instructions' <tool_call></tool_call> and <tool_call> ... </tool_call> markers.
  BOOST_TEST(std::count(raw.prompt_ids.begin(), raw.prompt_ids.end(), 151657) == 2);
  BOOST_TEST(std::count(raw.prompt_ids.begin(), raw.prompt_ids.end(), 151658) == 2);
  ChatRequest outside = raw;
  outside.prompt_ids.push_back(tokenizer->vocab_size());
  const auto want = direct(with_tools);
  Node node(settings());
  Client client(node);
  auto chat_answer = client.complete(with_tools);
  auto raw_answer = client.complete(raw);
  auto refused = client.complete(outside);
  const ChatResult c = wait(chat_answer), r = wait(raw_answer), bad = wait(refused);
  BOOST_TEST(c.token_ids == want);
  BOOST_TEST(r.token_ids == want);
  BOOST_TEST(r.usage.prompt_tokens == static_cast<int64_t>(raw.prompt_ids.size()));
  BOOST_TEST(bad.finish_reason == "error");
  BOOST_TEST(std::string(error_code_name(bad.error.code)) == "bad_request");
  BOOST_TEST(bad.error.message.find("outside the vocabulary") != std::string::npos, bad.error.message);
}

BOOST_AUTO_TEST_CASE(eight_concurrent_requests_batch_together_and_equal_their_answers_alone) {
  std::vector<ChatRequest> requests;
  for (int i = 0; i < 8; ++i) {
    std::vector<std::vector<uint8_t>> images;
    if (i % 3 == 0) images.push_back(image_bytes(i % 2 ? "assets/demo.jpg" : "tests/data/image/pillow/rgb_128x128.png"));
    requests.push_back(chat(std::string(static_cast<size_t>(1 + i * 9), 'a' + static_cast<char>(i)), std::move(images),
                            8 + i, i % 2 ? 0.7f : 0.0f, static_cast<uint64_t>(i)));
  }
  std::vector<std::vector<int32_t>> wants;
  for (const auto& r : requests) wants.push_back(direct(r));
  Node node(settings());
  Client client(node);
  std::vector<std::future<ChatResult>> futures;
  for (const auto& r : requests) futures.push_back(client.complete(r));
  for (size_t i = 0; i < requests.size(); ++i) {
    const ChatResult got = wait(futures[i]);
    BOOST_TEST(got.token_ids == wants[i], "request " << i);
  }
  const StatsReport stats = client.stats();
  BOOST_TEST(stats.max_batch_size > 1);
  BOOST_TEST(stats.requests.at("length") + (stats.requests.count("stop") ? stats.requests.at("stop") : 0) == 8);
  BOOST_TEST(stats.kv_blocks_used == 0);
}

BOOST_AUTO_TEST_CASE(memory_thresholds_wait_preempt_and_refuse_and_every_request_ends) {
  // Long enough to be still decoding when the hard threshold is crossed: on a fast run about 280
  // of its tokens pass between its fifth and the preemption check (200 tokens were not enough).
  const ChatRequest long_one = chat("Write a long answer.", {}, 1500, 0.0f, 0);
  const auto long_want = direct(long_one);
  NodeSettings s = settings();
  s.admission = {100, 200, 4, 64};
  Node node(std::move(s));
  Client client(node);
  std::atomic<int> tokens_seen{0};
  std::promise<ChatResult> long_done;
  ChatResult long_result;
  std::mutex m;
  client.submit(long_one, [&](const StreamEvent& e) {
    std::lock_guard lock(m);
    long_result.token_ids.insert(long_result.token_ids.end(), e.token_ids.begin(), e.token_ids.end());
    tokens_seen += static_cast<int>(e.token_ids.size());
    if (e.final) {
      long_result.finish_reason = e.finish_reason;
      long_done.set_value(long_result);
    }
  });
  while (tokens_seen < 5) std::this_thread::sleep_for(1ms);
  memory = 150;  // above soft: new requests wait
  auto waiting = client.complete(chat("Wait for me.", {}, 5, 0.0f, 0));
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(client.stats().queued == 1);
  memory = 250;  // above hard: the running sequence is preempted, new work refused
  auto refused = client.complete(chat("Refuse me.", {}, 5, 0.0f, 0));
  const ChatResult r = wait(refused);
  BOOST_TEST(r.finish_reason == "error");
  BOOST_TEST((r.error.code == ErrorCode::overloaded));
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(client.stats().preemptions >= 1);
  memory = 50;  // back to normal: the preempted sequence resumes, the waiting one starts
  auto long_future = long_done.get_future();
  BOOST_REQUIRE(long_future.wait_for(120s) == std::future_status::ready);
  BOOST_TEST(long_future.get().token_ids == long_want);  // unchanged by the preemption
  BOOST_TEST(wait(waiting).finish_reason != "error");
  BOOST_TEST(client.stats().kv_blocks_used == 0);
}

BOOST_AUTO_TEST_CASE(a_killed_engine_is_restarted_and_its_streams_continue_unchanged) {
  // The worker's engine group is killed mid-stream: a new one joins, and each request it held
  // resumes there from the ids already streamed; greedy and seeded answers equal undisturbed ones.
  const ChatRequest greedy = chat("Keep talking.", {}, 40, 0.0f, 0);
  const ChatRequest sampled = chat("Tell me more.", {}, 40, 0.9f, 77);
  const auto greedy_want = direct(greedy), sampled_want = direct(sampled);
  Node node(settings());
  Client client(node);
  std::atomic<int> tokens_seen{0};
  std::vector<int32_t> got[2];
  std::promise<StreamEvent> finals[2];
  int k = 0;
  for (const ChatRequest* r : {&greedy, &sampled}) {
    client.submit(*r, [&, k](const StreamEvent& e) {
      got[k].insert(got[k].end(), e.token_ids.begin(), e.token_ids.end());
      tokens_seen += static_cast<int>(e.token_ids.size());
      if (e.final) finals[k].set_value(e);
    });
    ++k;
  }
  while (tokens_seen < 6) std::this_thread::sleep_for(1ms);
  caf::scoped_actor self{node.system()};
  self->request(node.supervisor(), 10s, engine_atom::value).receive(
      [&](const engine_actor& engine) { caf::anon_send_exit(engine, caf::exit_reason::kill); },
      [](caf::error&) { BOOST_FAIL("no engine handle"); });
  for (int i = 0; i < 2; ++i) {
    auto f = finals[i].get_future();
    BOOST_REQUIRE(f.wait_for(60s) == std::future_status::ready);
    const StreamEvent e = f.get();
    BOOST_TEST(e.finish_reason != "error", e.error.message);
    BOOST_TEST(e.usage.completion_tokens == static_cast<int64_t>(got[i].size()));
  }
  BOOST_TEST(got[0] == greedy_want);
  BOOST_TEST(got[1] == sampled_want);
  BOOST_TEST(client.stats().workers.size() == 1u);  // the dead engine's worker left, the new one joined
}

BOOST_AUTO_TEST_CASE(a_failed_device_hands_its_streams_to_the_cpu_and_their_answers_are_unchanged) {
  // The engine group computes on a "device" (DeviceMemoryBackend) that fails mid-stream as a CUDA
  // device does after an illegal address: from then on every call throws DeviceLost. The worker
  // starts a new group on the CPU fallback and every request resumes there from what it
  // streamed: greedy, seeded and image answers equal undisturbed ones (this device computes with
  // the CPU's kernels), a new request is served on the CPU (the device refuses everything), and
  // the failed group's device memory is all given back.
  FailingDevice failing;
  test::DeviceMemoryBackend& device = failing.backend;
  const std::vector<ChatRequest> requests{chat("Keep talking.", {}, 40, 0.0f, 0), chat("Tell me more.", {}, 40, 0.9f, 77),
                                          chat("Describe this image.", {image_bytes("assets/demo.jpg")}, 30, 0.0f, 0),
                                          chat("Hello there, who are you?", {}, 12, 0.0f, 0)};  // the last one after
  const std::vector<std::vector<int32_t>> wants = direct_on(*failing.weights, requests);
  Node node(failing.settings(settings(), *backend));
  Client client(node);
  std::atomic<int> tokens_seen{0};
  const size_t streams = requests.size() - 1;
  std::vector<std::vector<int32_t>> got(streams);
  std::vector<std::promise<StreamEvent>> finals(streams);
  for (size_t k = 0; k < streams; ++k)
    client.submit(requests[k], [&, k](const StreamEvent& e) {
      got[k].insert(got[k].end(), e.token_ids.begin(), e.token_ids.end());
      // The device fails once 6 tokens have reached the client, while the streams still go on.
      if ((tokens_seen += static_cast<int>(e.token_ids.size())) >= 6) device.fail_from_now();
      if (e.final) finals[k].set_value(e);
    });
  size_t total = 0;
  for (size_t k = 0; k < streams; ++k) {
    auto f = finals[k].get_future();
    BOOST_REQUIRE(f.wait_for(60s) == std::future_status::ready);
    const StreamEvent e = f.get();
    BOOST_TEST(e.finish_reason != "error", e.error.message);
    BOOST_TEST(got[k] == wants[k], "request " << k);
    total += wants[k].size();
  }
  BOOST_TEST(total > 6u);  // tokens were still to come when the device failed
  auto f = client.complete(requests.back());
  BOOST_TEST(wait(f).token_ids == wants.back());
  BOOST_TEST(client.stats().workers.size() == 1u);  // the failed group's worker left, the CPU's joined
  BOOST_TEST(device.allocated_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_device_that_fails_while_idle_is_left_for_the_cpu_before_the_next_request) {
  // No step finds the failure this time: the worker's load report does (as cudaMemGetInfo
  // would), and the group moves to the CPU all the same instead of starting again on the device.
  FailingDevice failing;
  test::DeviceMemoryBackend& device = failing.backend;
  const ChatRequest request = chat("Hello there, who are you?", {}, 12, 0.0f, 0);
  const std::vector<int32_t> want = direct_on(*failing.weights, {request}).front();
  Node node(failing.settings(settings(), *backend));
  Client client(node);
  device.fail_from_now();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (device.allocated_bytes() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  BOOST_TEST(device.allocated_bytes() == 0u);  // the device's group is gone before any request
  // Until the CPU's group has joined, a new request is refused as with no worker at all ("retry
  // later"); a client that retries is served.
  ChatResult got;
  do {
    auto f = client.complete(request);
    got = wait(f);
  } while (got.finish_reason == "error" && got.error.message.find("retry later") != std::string::npos &&
           std::chrono::steady_clock::now() < deadline);
  BOOST_TEST(got.finish_reason != "error", got.error.message);
  BOOST_TEST(got.token_ids == want);
}

BOOST_AUTO_TEST_CASE(a_worker_of_another_protocol_or_model_is_refused_naming_both_values) {
  NodeSettings s = settings();
  s.fingerprint = "front-print";
  Node node(s);  // its own worker joined with the same fingerprint
  caf::scoped_actor self{node.system()};
  engine_actor engine;
  self->request(node.supervisor(), 10s, engine_atom::value)
      .receive([&](const engine_actor& e) { engine = e; }, [](caf::error&) { BOOST_FAIL("no worker joined"); });
  const auto refusal = [&](const WorkerHello& hello) {
    std::string why;
    self->request(node.supervisor(), 10s, join_atom::value, hello, engine)
        .receive([&](uint32_t) { why = "joined"; }, [&](caf::error& e) { why = node.system().render(e); });
    return why;
  };
  WorkerHello old_protocol;
  old_protocol.protocol = kClusterProtocolVersion + 1;
  old_protocol.fingerprint = "front-print";
  const std::string protocol_refusal = refusal(old_protocol);
  BOOST_TEST(protocol_refusal.find("protocol " + std::to_string(kClusterProtocolVersion + 1)) != std::string::npos,
             protocol_refusal);
  BOOST_TEST(protocol_refusal.find("front end " + std::to_string(kClusterProtocolVersion)) != std::string::npos);
  WorkerHello other_model;
  other_model.fingerprint = "worker-print";
  const std::string model_refusal = refusal(other_model);
  BOOST_TEST(model_refusal.find("worker-print") != std::string::npos, model_refusal);
  BOOST_TEST(model_refusal.find("front-print") != std::string::npos);
  BOOST_TEST(Client(node).stats().workers.size() == 1u);  // neither joined
}

BOOST_AUTO_TEST_CASE(deadline_cancel_and_a_vanished_client_end_requests_and_free_kv) {
  Node node(settings());
  Client client(node);
  ChatRequest late = chat("Slow one.", {}, 2000, 0.0f, 0);
  late.deadline_ms = 150;
  auto late_future = client.complete(late);
  const ChatResult late_result = wait(late_future);
  BOOST_TEST(late_result.finish_reason == "error");
  BOOST_TEST((late_result.error.code == ErrorCode::deadline_exceeded));

  std::atomic<int> seen{0};
  std::promise<StreamEvent> cancelled;
  const uint64_t id = client.submit(chat("Cancel me.", {}, 2000, 0.0f, 0), [&](const StreamEvent& e) {
    seen += static_cast<int>(e.token_ids.size());
    if (e.final) cancelled.set_value(e);
  });
  while (seen < 2) std::this_thread::sleep_for(1ms);
  client.cancel(id);
  auto c = cancelled.get_future();
  BOOST_REQUIRE(c.wait_for(60s) == std::future_status::ready);
  BOOST_TEST(c.get().finish_reason == "cancelled");

  // A client whose sink dies mid-stream: the node cancels its request.
  caf::scoped_actor self{node.system()};
  std::atomic<int> orphan_seen{0};
  const stream_sink sink = node.system().spawn(
      [](stream_sink::pointer, std::atomic<int>* seen) -> stream_sink::behavior_type {
        return {[seen](event_atom, const StreamEvent& e) { *seen += static_cast<int>(e.token_ids.size()); }};
      },
      &orphan_seen);
  self->request(node.api(), 10s, submit_atom::value, chat("Nobody listens.", {}, 2000, 0.0f, 0), sink)
      .receive([](uint64_t) {}, [](caf::error&) { BOOST_FAIL("submit failed"); });
  while (orphan_seen < 2) std::this_thread::sleep_for(1ms);
  caf::anon_send_exit(sink, caf::exit_reason::kill);
  StatsReport stats;
  for (int i = 0; i < 500; ++i) {
    stats = client.stats();
    if (stats.running == 0 && stats.kv_blocks_used == 0) break;
    std::this_thread::sleep_for(10ms);
  }
  BOOST_TEST(stats.running == 0);
  BOOST_TEST(stats.kv_blocks_used == 0);
  BOOST_TEST(stats.requests.at("cancelled") == 2);
}

// A drain (SIGTERM) closes admission: /health's answer turns unhealthy, naming it, so that a load
// balancer stops sending requests that would be refused, and a new request is refused while the
// running one goes on.
// A front end that no worker has joined (or whose last worker left) answers its stats at once,
// with no worker: /metrics and `pio stats` are what an operator reads then. They timed out.
BOOST_AUTO_TEST_CASE(a_front_end_without_workers_reports_its_stats_at_once) {
  NodeSettings s = settings();
  s.config = std::make_shared<const ModelConfig>(weights->config());
  s.engine.weights = nullptr;  // a front end only
  Node node(s);
  const auto start = std::chrono::steady_clock::now();
  const StatsReport stats = Client(node).stats(3s);
  BOOST_TEST(stats.workers.empty());
  BOOST_TEST((std::chrono::steady_clock::now() - start < 2s));
}

BOOST_AUTO_TEST_CASE(a_draining_node_reports_itself_unhealthy_and_refuses_new_requests) {
  Node node(settings());
  Client client(node);
  for (int i = 0; i < 1000 && !node.health(5s).healthy(); ++i) std::this_thread::sleep_for(10ms);  // the worker joins
  BOOST_REQUIRE(node.health(5s).healthy());
  std::atomic<int> seen{0};
  std::promise<StreamEvent> ended;
  const uint64_t id = client.submit(chat("A long one.", {}, 2000, 0.0f, 0), [&](const StreamEvent& e) {
    seen += static_cast<int>(e.token_ids.size());
    if (e.final) ended.set_value(e);
  });
  for (int i = 0; i < 60000 && seen < 2; ++i) std::this_thread::sleep_for(1ms);
  BOOST_REQUIRE(seen >= 2);
  // Every worker draining (here the one local worker) is unhealthy too: new requests would wait.
  caf::anon_send(node.supervisor(), drain_atom::value, uint32_t{1});
  NodeHealth workers_drain;
  for (int i = 0; i < 500 && workers_drain.healthy(); ++i, std::this_thread::sleep_for(10ms)) workers_drain = node.health(5s);
  BOOST_TEST((std::find(workers_drain.down.begin(), workers_drain.down.end(), "workers (all draining)") !=
              workers_drain.down.end()));
  BOOST_TEST(!node.drain(10ms));  // the long request still runs
  const NodeHealth health = node.health(5s);
  BOOST_TEST(!health.healthy());
  BOOST_TEST((std::find(health.down.begin(), health.down.end(), "admission (the node is shutting down)") !=
              health.down.end()));
  auto refused = client.complete(chat("Too late.", {}, 4, 0.0f, 0));
  const ChatResult late = wait(refused);
  BOOST_TEST((late.error.code == ErrorCode::overloaded));
  client.cancel(id);
  auto end = ended.get_future();
  BOOST_REQUIRE(end.wait_for(60s) == std::future_status::ready);
  BOOST_TEST(end.get().finish_reason == "cancelled");
}

BOOST_AUTO_TEST_SUITE_END()

// The tiered cache through the node (issue 10): vision embeddings and prefix KV blocks are
// reused within a node and across a restart, and a damaged cache costs only recomputation.
namespace {

struct CacheFixture : Fixture {
  test::TempDir dir{"node-cache"};

  NodeSettings cached_settings() {
    NodeSettings s = settings();
    s.engine.cache = std::make_shared<TieredCache>(TieredCacheOptions{dir.path(), "tiny", 8 << 20, 16 << 20, 32 << 20});
    return s;
  }
};

const CacheTierStats& tier_of(const StatsReport& r, const std::string& name) {
  for (const auto& t : r.cache)
    if (t.tier == name) return t;
  throw std::runtime_error("no cache tier " + name);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(node_cache, CacheFixture)

BOOST_AUTO_TEST_CASE(the_same_image_again_skips_the_encoder_also_after_a_restart_and_a_damaged_file) {
  const ChatRequest r = chat("Describe this image.", {image_bytes("assets/demo.jpg")}, 10, 0.0f, 0);
  const std::vector<int32_t> want = direct(r);
  {
    Node node(cached_settings());
    Client client(node);
    auto first = client.complete(r);
    const ChatResult a = wait(first);
    BOOST_TEST(a.token_ids == want);
    BOOST_TEST(a.timings.vision_ms > 0);
    // The stages follow each other: the first token comes after the encode that preceded it.
    BOOST_TEST(a.timings.prefill_ms >= 0);
    BOOST_TEST(a.timings.ttft_ms >= a.timings.vision_ms);
    auto second = client.complete(r);
    const ChatResult b = wait(second);
    BOOST_TEST(b.token_ids == want);
    BOOST_TEST(b.timings.vision_ms == 0);  // no encoder block ran
    const StatsReport s = client.stats();
    BOOST_TEST(tier_of(s, "hot").hits >= 1);
    BOOST_TEST(s.cache_status.find(dir.path().string()) != std::string::npos, s.cache_status);
  }
  {  // a new node over the same directory: the embedding comes from the warm tier
    Node node(cached_settings());
    Client client(node);
    auto again = client.complete(r);
    const ChatResult c = wait(again);
    BOOST_TEST(c.token_ids == want);
    BOOST_TEST(c.timings.vision_ms == 0);
    BOOST_TEST(tier_of(client.stats(), "warm").hits >= 1);
  }
  // Damage the largest table file (the warm tier's) every KiB, sparing its last 8 KiB (index,
  // properties, footer): every value's data block then fails RocksDB's block checksum.
  std::filesystem::path largest;
  for (const auto& f : std::filesystem::directory_iterator(dir.path()))
    if (f.path().extension() == ".sst" && (largest.empty() || f.file_size() > std::filesystem::file_size(largest)))
      largest = f.path();
  BOOST_REQUIRE(!largest.empty());
  const auto size = static_cast<std::streamoff>(std::filesystem::file_size(largest));
  BOOST_REQUIRE(size > 16384);
  {
    std::fstream io(largest, std::ios::in | std::ios::out | std::ios::binary);
    for (std::streamoff at = 512; at < size - 8192; at += 1024) {
      char c = 0;
      io.seekg(at);
      io.get(c);
      io.seekp(at);
      io.put(static_cast<char>(c ^ 0x5a));
    }
  }
  Node node(cached_settings());
  Client client(node);
  auto recomputed = client.complete(r);
  const ChatResult d = wait(recomputed);
  BOOST_TEST(d.finish_reason != "error");
  BOOST_TEST(d.token_ids == want);
  BOOST_TEST(d.timings.vision_ms > 0);  // encoded again
  BOOST_TEST(tier_of(client.stats(), "warm").corrupt_dropped >= 1);
}

BOOST_AUTO_TEST_CASE(a_second_turn_reuses_the_first_turns_kv_also_after_a_restart) {
  const ChatRequest turn1 = chat("Describe this image.", {image_bytes("assets/demo.jpg")}, 8, 0.0f, 0);
  const std::vector<int32_t> answer1 = direct(turn1);
  ChatRequest turn2 = turn1;
  turn2.messages.push_back({"assistant", {{tokenizer->decode(answer1, SpecialTokens::skip), {}, false}}});
  turn2.messages.push_back({"user", {{"What colours are in it?", {}, false}}});
  turn2.sampling = {0.7f, 0, 1.0f, 11};
  const std::vector<int32_t> want2 = direct(turn2);
  int64_t prompt1 = 0;
  for (int run = 0; run < 2; ++run) {  // run 1: a restarted node over the same cache directory
    Node node(cached_settings());
    Client client(node);
    if (run == 0) {
      auto f = client.complete(turn1);
      const ChatResult a = wait(f);
      BOOST_TEST(a.token_ids == answer1);
      BOOST_TEST(a.usage.cached_tokens == 0);
      prompt1 = a.usage.prompt_tokens;
    }
    auto f = client.complete(turn2);
    const ChatResult b = wait(f);
    BOOST_TEST(b.token_ids == want2, "run " << run);
    // Turn 1's prompt is turn 2's prefix: its full 16-token blocks are not computed again.
    BOOST_TEST(b.usage.cached_tokens >= prompt1 / 16 * 16, "run " << run);
    BOOST_TEST(b.usage.cached_tokens < b.usage.prompt_tokens);
    if (run == 1) BOOST_TEST(tier_of(client.stats(), "warm").hits > 0);
  }
}

BOOST_AUTO_TEST_SUITE_END()
