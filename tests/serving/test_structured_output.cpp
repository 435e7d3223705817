// Structured outputs in the engine core: on the tiny checkpoint (random weights, the real Qwen
// tokenizer), requests with a response schema answer JSON that parses and matches it, beside
// unconstrained requests that answer as they do alone, after preemption, and resumed on
// another engine from the ids already streamed. Random weights never close a free string (almost
// every token is string text), so these schemas have none; strings are covered by
// test_json_grammar's masks over the same vocabulary.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "http/tool_calls.h"
#include "model/model_weights.h"
#include "model/text_model.h"
#include "serving/engine_core.h"
#include "serving/json_schema.h"
#include "tests/support/tiny_checkpoint.h"

using namespace pio;
using nlohmann::json;

namespace {

const char* kSchema = R"({
  "type": "object",
  "properties": {
    "name": {"enum": ["Ann", "Bo", "Chen Li", "Zoë"]},
    "age": {"type": "integer"},
    "mood": {"enum": ["calm", "busy", "tired"]},
    "scores": {"type": "array", "items": {"type": "number"}, "maxItems": 3},
    "pet": {"anyOf": [{"$ref": "#/$defs/pet"}, {"type": "null"}]},
    "ok": {"type": "boolean"}
  },
  "required": ["name", "age", "mood", "pet"],
  "additionalProperties": false,
  "$defs": {"pet": {"type": "object", "properties": {"kind": {"enum": ["cat", "dog"]}, "legs": {"type": "integer"}},
                    "required": ["kind", "legs"], "additionalProperties": false}}
})";

// kSchema's constraints, checked on a parsed answer.
void check_matches_schema(const json& j) {
  BOOST_REQUIRE(j.is_object());
  for (const auto& [key, _] : j.items())
    BOOST_TEST((key == "name" || key == "age" || key == "mood" || key == "scores" || key == "pet" || key == "ok"), key);
  BOOST_TEST((j.at("name") == "Ann" || j.at("name") == "Bo" || j.at("name") == "Chen Li" || j.at("name") == "Zoë"));
  BOOST_TEST(j.at("age").is_number_integer());
  BOOST_TEST((j.at("mood") == "calm" || j.at("mood") == "busy" || j.at("mood") == "tired"));
  if (j.contains("scores")) {
    BOOST_TEST(j["scores"].is_array());
    BOOST_TEST(j["scores"].size() <= 3u);
    for (const auto& s : j["scores"]) BOOST_TEST(s.is_number());
  }
  const json& pet = j.at("pet");
  if (!pet.is_null()) {
    BOOST_TEST((pet.at("kind") == "cat" || pet.at("kind") == "dog"));
    BOOST_TEST(pet.at("legs").is_number_integer());
    BOOST_TEST(pet.size() == 2u);
  }
  if (j.contains("ok")) BOOST_TEST(j["ok"].is_boolean());
}

struct Fixture {
  std::unique_ptr<Backend> backend = make_cpu_backend(2);
  const ModelWeights weights{test::tiny_checkpoint()};
  TextModel text{weights, *backend};
  std::shared_ptr<const Tokenizer> tokenizer = load_tokenizer(test::tiny_checkpoint());

  std::unique_ptr<KvStorage> cache() {
    return std::make_unique<KvStorage>(text.backend(), text.kv_shape(), 1 << 24, 4);
  }
  std::unique_ptr<EngineCore> engine(KvStorage& kv) {
    auto e = std::make_unique<EngineCore>(text, weights.config(), kv, BatchLimits{64, 8}, make_policy("fcfs"),
                                          tokenizer->vocab_size());
    e->enable_structured_outputs(tokenizer);
    return e;
  }

  EngineRequest request(uint64_t id, const std::string& schema, float temperature = 1.0f) {
    EngineRequest r;
    r.queue = {id, "client", 0, static_cast<double>(id)};
    r.ids = tokenizer->encode("<|im_start|>user\nDescribe a person as JSON.<|im_end|>\n<|im_start|>assistant\n");
    r.sampling = {temperature, 0, 1.0f, 500 + id};
    r.max_tokens = 600;
    r.stop_ids = weights.stop_ids();
    r.structured.schema = schema;
    return r;
  }

  struct Answer {
    std::vector<int32_t> ids;
    FinishReason finish = FinishReason::none;
  };

  // Steps the engine until idle, preempting the running sequence with the most work at
  // `preempt_at` steps if given; each request's ids and finish reason.
  std::map<uint64_t, Answer> run(EngineCore& e, std::vector<int> preempt_at = {}) {
    std::map<uint64_t, Answer> out;
    for (int step = 0; !e.idle(); ++step) {
      BOOST_REQUIRE(step < 5000);
      if (std::find(preempt_at.begin(), preempt_at.end(), step) != preempt_at.end()) BOOST_REQUIRE(e.preempt_one());
      for (const auto& ev : e.step(step)) {
        BOOST_REQUIRE(ev.finish != FinishReason::error);
        out[ev.id].ids.push_back(ev.token);
        out[ev.id].finish = ev.finish;
      }
    }
    return out;
  }

  // The answer's text without its stop id, parsed.
  json parsed(const Answer& a) {
    std::vector<int32_t> ids = a.ids;
    const auto& stops = weights.stop_ids();
    if (!ids.empty() && std::find(stops.begin(), stops.end(), ids.back()) != stops.end()) ids.pop_back();
    const std::string text = tokenizer->decode(ids);
    BOOST_TEST_MESSAGE("answer " << text);
    BOOST_TEST_INFO("answer " << text);
    BOOST_REQUIRE(json::accept(text));
    return json::parse(text);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(structured_output, Fixture)

BOOST_AUTO_TEST_CASE(constrained_answers_parse_and_match_their_schema_beside_free_ones) {
  const auto kv = cache();
  auto e = engine(*kv);
  for (uint64_t id = 1; id <= 4; ++id) e->submit(request(id, kSchema));
  e->submit(request(5, R"({"type":"array","items":{"type":["integer","boolean","null"]},"minItems":2,"maxItems":5})"));
  EngineRequest free = request(6, "", 0.8f);
  free.max_tokens = 40;
  e->submit(free);
  const auto out = run(*e);
  for (uint64_t id = 1; id <= 4; ++id) {
    BOOST_TEST_INFO("request " << id);
    BOOST_TEST((out.at(id).finish == FinishReason::stop));
    check_matches_schema(parsed(out.at(id)));
  }
  BOOST_TEST((out.at(5).finish == FinishReason::stop));
  const json list = parsed(out.at(5));
  BOOST_TEST((list.is_array() && list.size() >= 2u && list.size() <= 5u));
  // The unconstrained request answers as it does alone (random weights: not JSON).
  const auto kv2 = cache();
  auto alone = engine(*kv2);
  alone->submit(free);
  BOOST_TEST(run(*alone).at(6).ids == out.at(6).ids);
  BOOST_TEST(!json::accept(tokenizer->decode(out.at(6).ids)));
}

BOOST_AUTO_TEST_CASE(a_preempted_constrained_request_answers_the_same) {
  const auto kv = cache();
  auto e = engine(*kv);
  e->submit(request(1, kSchema));
  const Answer whole = run(*e).at(1);
  BOOST_REQUIRE(whole.ids.size() > 12u);
  auto again = engine(*kv);
  again->submit(request(1, kSchema));
  const Answer preempted = run(*again, {4, 9}).at(1);
  BOOST_TEST(preempted.ids == whole.ids);
  check_matches_schema(parsed(preempted));
}

BOOST_AUTO_TEST_CASE(a_moved_request_resumes_under_its_schema) {
  const auto kv = cache();
  auto e = engine(*kv);
  e->submit(request(1, kSchema));
  const Answer whole = run(*e).at(1);
  for (const size_t streamed : {size_t{1}, whole.ids.size() / 2, whole.ids.size() - 2}) {
    auto moved_engine = engine(*kv);
    EngineRequest moved = request(1, kSchema);
    moved.resumed.assign(whole.ids.begin(), whole.ids.begin() + static_cast<std::ptrdiff_t>(streamed));
    moved_engine->submit(moved);
    Answer rest = run(*moved_engine).at(1);
    rest.ids.insert(rest.ids.begin(), moved.resumed.begin(), moved.resumed.end());
    BOOST_TEST(rest.ids == whole.ids, "resumed after " << streamed);
    check_matches_schema(parsed(rest));
  }
}

BOOST_AUTO_TEST_CASE(schemas_and_resumed_ids_it_cannot_follow_are_refused) {
  const auto kv = cache();
  auto e = engine(*kv);
  BOOST_CHECK_THROW(e->submit(request(1, R"({"type":"string","format":"email"})")), SchemaError);
  EngineRequest off = request(2, kSchema);
  off.resumed = tokenizer->encode("[1]");  // not an object
  BOOST_CHECK_THROW(e->submit(off), std::invalid_argument);
  BOOST_TEST(e->idle());
  EngineCore plain(text, weights.config(), *kv, {64, 8}, make_policy("fcfs"), 0);
  BOOST_CHECK_THROW(plain.submit(request(3, kSchema)), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_required_tool_call_parses_as_one_call_of_a_listed_tool) {
  const auto kv = cache();
  auto e = engine(*kv);
  const char* tools = R"({"anyOf": [
    {"type": "object", "properties": {"name": {"const": "get_weather"}, "arguments": {"type": "object",
       "properties": {"city": {"enum": ["Paris", "Rome"]}, "days": {"type": "integer"}}, "required": ["city"]}},
     "required": ["name", "arguments"], "additionalProperties": false},
    {"type": "object", "properties": {"name": {"const": "get_time"}, "arguments": {"type": "object",
       "properties": {}, "additionalProperties": false}},
     "required": ["name", "arguments"], "additionalProperties": false}]})";
  for (uint64_t id = 1; id <= 3; ++id) {
    EngineRequest r = request(id, "");
    r.structured = {tools, "<tool_call>\n", "\n</tool_call>"};
    e->submit(r);
  }
  const auto out = run(*e);
  for (const auto& [id, answer] : out) {
    const std::string text = tokenizer->decode(answer.ids, SpecialTokens::skip);
    BOOST_TEST_CONTEXT("answer " << text) {
    BOOST_TEST((answer.finish == FinishReason::stop));
    const http::ParsedOutput parsed = http::parse_tool_calls(text);
    BOOST_REQUIRE(parsed.calls.size() == 1u);
    BOOST_TEST(!parsed.content);
    const json args = json::parse(parsed.calls[0].arguments);
    if (parsed.calls[0].name == "get_weather") {
      BOOST_TEST((args.at("city") == "Paris" || args.at("city") == "Rome"));
    } else {
      BOOST_TEST(parsed.calls[0].name == "get_time");
      BOOST_TEST(args.empty());
    }
    }
  }
}

BOOST_AUTO_TEST_CASE(constrained_decoding_costs_little_per_token) {
  // Decode time per token (the steps after the prefill's) of a request alone on the engine:
  // free, under kSchema, and under json_object (whose strings take the plain-token path). The
  // least of three runs, so that a moment of load from another test (ctest -j2, which once
  // failed this case with one run each) does not decide the comparison.
  const auto per_token_ms = [&](const EngineRequest& r, size_t* tokens) {
    double best = std::numeric_limits<double>::infinity();
    for (int run = 0; run < 3; ++run) {
      const auto kv = cache();
      auto e = engine(*kv);
      e->submit(r);
      double ms = 0;
      *tokens = 0;
      for (int step = 0; !e->idle(); ++step) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto events = e->step(step);
        if (step > 0) {
          ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
          *tokens += events.size();
        }
      }
      best = std::min(best, ms / static_cast<double>(std::max<size_t>(*tokens, 1)));
    }
    return best;
  };
  size_t n = 0, n_free = 0, n_object = 0;
  const double constrained = per_token_ms(request(1, kSchema), &n);
  EngineRequest free = request(2, "");
  free.max_tokens = static_cast<int32_t>(n + 1);
  EngineRequest object = request(3, R"({"type":"object"})");
  object.max_tokens = static_cast<int32_t>(n + 1);
  const double unconstrained = per_token_ms(free, &n_free);
  const double any_object = per_token_ms(object, &n_object);
  BOOST_TEST_MESSAGE("decode ms per token: free " << unconstrained << " (" << n_free << " tokens), schema " << constrained
                                                  << " (" << n << "), json_object " << any_object << " (" << n_object << ")");
  BOOST_TEST(n_free == n);
  BOOST_TEST(constrained < 3 * unconstrained + 2);  // loose: a shared machine; the figures are the message
  BOOST_TEST(any_object < 3 * unconstrained + 2);
}

BOOST_AUTO_TEST_SUITE_END()
