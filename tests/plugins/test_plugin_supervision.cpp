// Plug-in stages in a node in this process, through pio::Client: whatever a stage throws ends
// only its request (a filter's std::exception: bad_request; anything else: internal, naming the
// stage), a stage that threw something else is restarted and the next request is answered, a
// stage that keeps failing is held down and the node's health names it. And sampling without a
// seed: each request draws its own, reported on the result, and a reported seed replays.
#define BOOST_TEST_MODULE plugin_supervision
#include <boost/test/unit_test.hpp>

#include <set>
#include <stdexcept>

#include "actors/client.h"
#include "actors/node.h"
#include "model/image/preprocess.h"
#include "tests/support/tiny_checkpoint.h"

using namespace pio;
using namespace std::chrono_literals;

namespace {

// Throws on the calls `fail` picks (by call number, from 0): a std::runtime_error("no") when
// `standard`, else an int.
struct Thrower {
  bool standard;
  std::function<bool(int)> fail;
  int calls = 0;
  void operator()() {
    if (!fail(calls++)) return;
    if (standard) throw std::runtime_error("no");
    throw 7;
  }
};

struct Filter final : RequestFilter {
  explicit Filter(Thrower t) : maybe_throw(std::move(t)) {}
  void filter(ChatRequest&) override { maybe_throw(); }
  Thrower maybe_throw;
};

struct Output final : OutputProcessor {
  explicit Output(Thrower t) : maybe_throw(std::move(t)) {}
  void process(StreamEvent&) override { maybe_throw(); }
  Thrower maybe_throw;
};

const auto first_only = [](int call) { return call == 0; };
const auto always = [](int) { return true; };

struct Fixture {
  std::unique_ptr<Backend> backend = make_cpu_backend(2);
  std::shared_ptr<const ModelWeights> weights = std::make_shared<const ModelWeights>(test::tiny_checkpoint());
  std::shared_ptr<const Tokenizer> tokenizer = load_tokenizer(test::tiny_checkpoint());

  std::unique_ptr<Node> node(std::shared_ptr<PluginRegistry> plugins) {
    NodeSettings s;
    s.engine.weights = weights;
    s.engine.backend = backend.get();
    s.engine.tokenizer = tokenizer;
    s.engine.kv_bytes = 64 << 20;
    s.engine.kv_block_size = 16;
    s.preprocessor = load_preprocessor_config(test::tiny_checkpoint());
    s.memory_mb = [] { return 0.0; };
    s.plugins = std::move(plugins);
    return std::make_unique<Node>(std::move(s));
  }
};

ChatRequest hello(float temperature = 0.0f, std::optional<uint64_t> seed = std::nullopt, int max_tokens = 6) {
  ChatRequest r;
  r.messages = {{"user", {{"Hello.", {}, false}}}};
  r.max_tokens = max_tokens;
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  return r;
}

ChatResult ask(Client& client, ChatRequest r) {
  auto f = client.complete(std::move(r));
  BOOST_REQUIRE(f.wait_for(60s) == std::future_status::ready);
  return f.get();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(plugin_supervision, Fixture)

BOOST_AUTO_TEST_CASE(a_stage_that_throws_ends_only_its_request_and_is_restarted) {
  for (const bool is_filter : {true, false}) {
    auto plugins = std::make_shared<PluginRegistry>();
    if (is_filter) plugins->add_request_filter(std::make_shared<Filter>(Thrower{false, first_only}));
    else plugins->add_output_processor(std::make_shared<Output>(Thrower{false, first_only}));
    const auto n = node(plugins);
    Client client(*n);
    const ChatResult failed = ask(client, hello());
    const std::string stage = is_filter ? "request filter 1" : "output processor 1";
    BOOST_TEST(failed.finish_reason == "error");
    BOOST_TEST((failed.error.code == ErrorCode::internal));
    BOOST_TEST(failed.error.message == "plug-in " + stage + " failed (it threw an exception that is not a std::exception)");
    for (int i = 0; i < 3; ++i) {
      const ChatResult next = ask(client, hello());
      BOOST_TEST(next.finish_reason == "length", stage << ": " << next.error.message);
      BOOST_TEST(!next.text.empty());
    }
    BOOST_TEST(n->health(5s).healthy());
  }
}

BOOST_AUTO_TEST_CASE(a_std_exception_refuses_or_fails_the_request_and_the_stage_stays) {
  auto plugins = std::make_shared<PluginRegistry>();
  plugins->add_request_filter(std::make_shared<Filter>(Thrower{true, [](int call) { return call % 2 == 0; }}));
  plugins->add_output_processor(std::make_shared<Output>(Thrower{true, [](int call) { return call == 2; }}));
  const auto n = node(plugins);
  Client client(*n);
  const ChatResult refused = ask(client, hello());
  BOOST_TEST((refused.error.code == ErrorCode::bad_request));
  BOOST_TEST(refused.error.message == "refused by plug-in request filter 1: no");
  const ChatResult failed = ask(client, hello());  // the filter passes it; the output's third event throws
  BOOST_TEST((failed.error.code == ErrorCode::internal));
  BOOST_TEST(failed.error.message == "plug-in output processor 1: no");
  ask(client, hello());  // refused
  BOOST_TEST(ask(client, hello()).finish_reason == "length");
  BOOST_TEST(n->health(5s).healthy());
}

BOOST_AUTO_TEST_CASE(a_stage_that_keeps_failing_is_held_down_and_reported) {
  auto plugins = std::make_shared<PluginRegistry>();
  plugins->add_output_processor(std::make_shared<Output>(Thrower{false, always}));
  const auto n = node(plugins);
  Client client(*n);
  for (int i = 0; i < 4; ++i) {
    const std::string message = ask(client, hello()).error.message;
    BOOST_TEST(contains(message, "failed (it threw"), i << ": " << message);
  }
  const ChatResult down = ask(client, hello());
  BOOST_TEST((down.error.code == ErrorCode::internal));
  BOOST_TEST(contains(down.error.message, "plug-in output processor 1 is down"), down.error.message);
  BOOST_TEST(n->health(5s).down == std::vector<std::string>{"output processor 1"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(without_a_seed_each_request_draws_one_and_reports_it) {
  const auto n = node(nullptr);
  Client client(*n);
  std::set<uint64_t> seeds;
  std::set<std::string> texts;
  std::vector<ChatResult> results;
  for (int i = 0; i < 4; ++i) {
    results.push_back(ask(client, hello(1.0f, std::nullopt, 24)));
    BOOST_REQUIRE(results.back().seed.has_value());
    seeds.insert(*results.back().seed);
    texts.insert(results.back().text);
  }
  BOOST_TEST(seeds.size() == 4u);
  BOOST_TEST(texts.size() == 4u);
  const ChatResult replay = ask(client, hello(1.0f, results[0].seed, 24));
  BOOST_TEST(replay.text == results[0].text);
  BOOST_TEST((replay.seed == results[0].seed));
  // Seed 0 is a seed: reported as 0, and the same answer twice.
  const ChatResult zero = ask(client, hello(1.0f, 0, 24));
  BOOST_TEST(zero.seed.value_or(1) == 0u);
  BOOST_TEST(ask(client, hello(1.0f, 0, 24)).text == zero.text);
}

BOOST_AUTO_TEST_SUITE_END()
