// OpenAI request bodies into ChatRequest: every field mapped, wrong types and ranges refused
// with 400 naming the field, fields pio does not implement refused the same way (hints taken),
// malformed JSON and deep nesting refused in a reader's words, `model` checked.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "http/api_error.h"
#include "http/openai_request.h"
#include "tests/http/http_support.h"

using namespace pio;
using namespace pio::http;
// Ordered, as a client sends it: the tools' key order must survive.
using json = nlohmann::ordered_json;

namespace {

// "STATUS PARAM" of the refusal, "0 " when accepted.
std::string refusal(const std::string& body, bool chat = true, const RequestLimits& limits = {}) {
  try {
    chat ? parse_chat_request(body, limits) : parse_completion_request(body, limits);
  } catch (const ApiError& e) {
    return std::to_string(e.status()) + " " + e.param();
  }
  return "0 ";
}

int status(const std::string& body, bool chat = true, const RequestLimits& limits = {}) {
  return std::stoi(refusal(body, chat, limits));
}

std::string with(const json& extra) {
  json body = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  body.update(extra);
  return body.dump();
}

const std::string kPng = test::data_dir() + "/image/pillow/rgb_37x23.png";

}  // namespace

BOOST_AUTO_TEST_SUITE(openai_request)

BOOST_AUTO_TEST_CASE(maps_every_field) {
  const std::string body = with({{"max_tokens", 7}, {"temperature", 0.5}, {"top_p", 0.9}, {"top_k", 40}, {"min_p", 0.05},
                                 {"presence_penalty", 0.5}, {"frequency_penalty", -0.5}, {"repetition_penalty", 1.1},
                                 {"seed", 42}, {"stop", {"a", "bc"}}, {"n", 1}, {"stream", true},
                                 {"stream_options", {{"include_usage", true}}}, {"user", "alice"},
                                 {"metadata", {{"x", "1"}}}, {"store", false}, {"service_tier", "auto"},
                                 {"parallel_tool_calls", true}, {"response_format", {{"type", "text"}}}});
  const ParsedRequest p = parse_chat_request(body, {});
  BOOST_TEST(p.model == "m");
  BOOST_TEST(p.stream);
  BOOST_TEST(p.include_usage);
  BOOST_TEST(!p.tools);
  const ChatRequest& r = p.request;
  BOOST_TEST(r.max_tokens == 7);
  BOOST_TEST(r.sampling.temperature == 0.5f);
  BOOST_TEST(r.sampling.top_p == 0.9f);
  BOOST_TEST(r.sampling.top_k == 40);
  BOOST_TEST(r.sampling.min_p == 0.05f);
  BOOST_TEST(r.sampling.presence_penalty == 0.5f);
  BOOST_TEST(r.sampling.frequency_penalty == -0.5f);
  BOOST_TEST(r.sampling.repetition_penalty == 1.1f);
  BOOST_TEST(r.sampling.seed.value_or(0) == 42u);
  BOOST_TEST(r.stop == (std::vector<std::string>{"a", "bc"}), boost::test_tools::per_element());
  BOOST_TEST(r.client_id == "alice");
  BOOST_REQUIRE(r.messages.size() == 1u);
  BOOST_TEST(r.messages[0].role == "user");
  BOOST_REQUIRE(r.messages[0].parts.size() == 1u);
  BOOST_TEST(r.messages[0].parts[0].text == "hi");
}

BOOST_AUTO_TEST_CASE(defaults_are_openais) {
  const ParsedRequest p = parse_chat_request(with({{"max_completion_tokens", 9}, {"stop", "x"}, {"seed", -1}, {"top_k", -1}}), {});
  BOOST_TEST(p.request.sampling.temperature == 1.0f);
  BOOST_TEST(p.request.sampling.top_p == 1.0f);
  BOOST_TEST(p.request.sampling.top_k == 0);
  BOOST_TEST(p.request.sampling.seed.value_or(0) == ~uint64_t(0));
  // No seed (absent or null): none, so the node draws one; 0 is a seed.
  BOOST_TEST(!parse_chat_request(with({{"max_tokens", 3}}), {}).request.sampling.seed.has_value());
  BOOST_TEST(!parse_chat_request(with({{"seed", nullptr}}), {}).request.sampling.seed.has_value());
  BOOST_TEST(parse_chat_request(with({{"seed", 0}}), {}).request.sampling.seed.has_value());
  BOOST_TEST(p.request.max_tokens == 9);
  BOOST_TEST(p.request.stop == std::vector<std::string>{"x"}, boost::test_tools::per_element());
  BOOST_TEST(!p.stream);
  RequestLimits limits;
  limits.default_max_tokens = 33;
  BOOST_TEST(parse_chat_request(with({{"temperature", nullptr}}), limits).request.max_tokens == 33);
  BOOST_TEST(parse_chat_request(with({{"temperature", nullptr}}), limits).request.sampling.temperature == 1.0f);
}

BOOST_AUTO_TEST_CASE(left_out_sampling_fields_take_the_node_defaults) {
  RequestLimits limits;  // as pio-node sets them from a generation config (Qwen3-VL's values)
  limits.sampling = {0.7f, 0.8f, 20, 0.05f, 1.1f};
  const SamplingOptions d = parse_chat_request(with({{"temperature", nullptr}}), limits).request.sampling;
  BOOST_TEST(d.temperature == 0.7f);
  BOOST_TEST(d.top_p == 0.8f);
  BOOST_TEST(d.top_k == 20);
  BOOST_TEST(d.min_p == 0.05f);
  BOOST_TEST(d.repetition_penalty == 1.1f);
  // A field the request gives wins, 0 and "no limit" (-1) included; the others keep the defaults.
  const SamplingOptions given =
      parse_chat_request(with({{"temperature", 0}, {"top_k", -1}, {"repetition_penalty", 1}}), limits).request.sampling;
  BOOST_TEST(given.temperature == 0.0f);
  BOOST_TEST(given.top_k == 0);
  BOOST_TEST(given.repetition_penalty == 1.0f);
  BOOST_TEST(given.top_p == 0.8f);
  BOOST_TEST(given.min_p == 0.05f);
  // Completions start from the same defaults.
  const SamplingOptions completion =
      parse_completion_request(json{{"prompt", "a"}, {"top_p", 0.5}}.dump(), limits).request.sampling;
  BOOST_TEST(completion.temperature == 0.7f);
  BOOST_TEST(completion.top_p == 0.5f);
  BOOST_TEST(completion.top_k == 20);
}

BOOST_AUTO_TEST_CASE(wrong_types_and_ranges_are_400_naming_the_field) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"temperature", "hot"}}, "temperature"},   {{{"temperature", 2.5}}, "temperature"},
      {{{"top_p", 0}}, "top_p"},                   {{{"top_k", 1.5}}, "top_k"},
      {{{"max_tokens", 0}}, "max_tokens"},         {{{"max_tokens", 1e30}}, "max_tokens"},
      {{{"max_tokens", 5000}}, "max_tokens"},      {{{"max_tokens", "10"}}, "max_tokens"},
      {{{"seed", 1.5}}, "seed"},                   {{{"seed", 18446744073709551615ull}}, "seed"},
      {{{"n", 17}}, "n"},                          {{{"stop", 3}}, "stop"},
      {{{"stop", {"a", 1}}}, "stop[1]"},           {{{"stream", "yes"}}, "stream"},
      {{{"stream_options", {{"include_usage", 1}}}}, "stream_options.include_usage"},
      {{{"stream_options", {{"include_usage", true}}}}, "stream_options"},  // without stream: true
      {{{"stream", false}, {"stream_options", {{"include_usage", true}}}}, "stream_options"},
      {{{"messages", {{{"role", "user"}}}}}, "messages[0].content"},
      {{{"messages", {{{"role", "user"}, {"content", json::array()}}}}}, "messages[0].content"},
      {{{"messages", "hi"}}, "messages"},          {{{"messages", json::array()}}, "messages"},
      {{{"messages", {{{"role", "robot"}, {"content", "x"}}}}}, "messages[0].role"},
      {{{"messages", {{{"content", "x"}}}}}, "messages[0].role"},
      {{{"messages", {{{"role", "user"}, {"content", 5}}}}}, "messages[0].content"},
      {{{"messages", {{{"role", "user"}, {"content", {{{"type", "audio"}}}}}}}}, "messages[0].content[0].type"},
      {{{"messages", {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", 1}}}}}}}}, "messages[0].content[0].text"},
      {{{"messages", {{{"role", "user"}, {"content", "a"}}, {{"role", "system"}, {"content", "b"}}}}}, "messages[1]"},
      {{{"tools", {{{"type", "function"}}}}}, "tools[0].function"},
      {{{"tool_choice", "always"}}, "tool_choice"},
      {{{"model", 3}}, "model"},                   {{{"user", 3}}, "user"},
  };
  for (const auto& [extra, param] : cases) {
    BOOST_TEST_CONTEXT(extra.dump()) {
      BOOST_TEST(refusal(with(extra)) == "400 " + param);
    }
  }
}

// A number with no fractional part counts as an integer (JavaScript clients send 3.0; vLLM's
// pydantic models take it), within the same range; a fractional one is still refused above.
BOOST_AUTO_TEST_CASE(integral_floats_count_as_integers) {
  const ParsedRequest r = parse_chat_request(with({{"max_tokens", 3.0}, {"n", 2.0}, {"seed", 7.0}}), {});
  BOOST_TEST(r.request.max_tokens == 3);
  BOOST_TEST(r.n == 2);
  BOOST_TEST((r.request.sampling.seed == std::optional<uint64_t>(7)));
  BOOST_TEST(refusal(with({{"max_tokens", 0.0}})) == "400 max_tokens");
  BOOST_TEST(refusal(with({{"max_tokens", 9.3e18}})) == "400 max_tokens");
  BOOST_TEST(refusal(with({{"max_tokens", -1e300}})) == "400 max_tokens");
}

BOOST_AUTO_TEST_CASE(fields_pio_does_not_implement_are_400_naming_them) {
  const std::vector<std::pair<json, std::string>> chat = {
      {{{"some_future_field", {{"x", 1}}}}, "some_future_field"},
      {{{"functions", json::array({json::object()})}}, "functions"},
      {{{"reasoning_effort", "high"}}, "reasoning_effort"},
      {{{"stream_options", {{"include_usage", true}, {"continuous_usage_stats", true}}}}, "stream_options.continuous_usage_stats"},
      {{{"messages", {{{"role", "user"}, {"content", "x"}, {"audio", {{"id", "a"}}}}}}}, "messages[0].audio"},
      {{{"messages", {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", "x"}, {"cache_control", {{"type", "x"}}}}}}}}}},
       "messages[0].content[0].cache_control"},
      {{{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}, {"image_url", {{"url", "x.png"}, {"fetch", true}}}}}}}}}},
       "messages[0].content[0].image_url.fetch"},
      {{{"tool_choice", "required"}}, "tool_choice"},  // without tools
      {{{"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}}}, "tool_choice"},
      {{{"tool_choice", "required"}, {"tools", json::array()}}, "tool_choice"},
      {{{"tool_choice", {{"type", "function"}, {"function", {{"name", "g"}}}}},
        {"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}}}, "tool_choice"},  // not one of the tools
      {{{"tool_choice", {{"type", "function"}}}, {"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}}},
       "tool_choice"},
  };
  for (const auto& [extra, param] : chat) {
    BOOST_TEST_CONTEXT(extra.dump()) { BOOST_TEST(refusal(with(extra)) == "400 " + param); }
  }
  for (const char* body : {R"({"prompt": "x", "suffix": "y"})", R"({"prompt": "x", "best_of": 2})", R"({"prompt": "x", "messages": []})"}) {
    BOOST_TEST_CONTEXT(body) { BOOST_TEST(status(body, false) == 400); }
  }
  // null is "not given"; the hints, best_of 1, and the fields of the logprobs work are taken.
  BOOST_TEST(status(with({{"functions", nullptr}, {"suffix_x", nullptr}})) == 0);
  const json detail = {{"type", "image_url"}, {"image_url", {{"url", test::data_uri(kPng)}, {"detail", "low"}}}};
  BOOST_TEST(status(with({{"messages", {{{"role", "user"}, {"content", {detail}}, {"name", "ann"}}}}})) == 0);
  BOOST_TEST(status(with({{"logprobs", true}, {"top_logprobs", 2}, {"logit_bias", {{"1", 5}}}, {"prompt_cache_key", "k"},
                          {"safety_identifier", "s"}})) == 0);
  BOOST_TEST(status(R"({"prompt": "x", "best_of": 1, "echo": false, "logprobs": 1, "logit_bias": {}})", false) == 0);
  const json tool = json::parse(R"({"type": "function", "function": {"name": "f"}})");
  BOOST_TEST(status(with({{"tool_choice", "required"}, {"tools", {tool}}})) == 0);
  BOOST_TEST(status(with({{"tool_choice", {{"type", "function"}, {"function", {{"name", "f"}}}}}, {"tools", {tool}}})) == 0);
  try {
    parse_chat_request(with({{"top_k_typo", 3}}), {});
    BOOST_FAIL("accepted");
  } catch (const ApiError& e) {
    BOOST_TEST(std::string(e.what()).find("unsupported parameter: top_k_typo") != std::string::npos, e.what());
  }
}

// The message of the refusal (empty when accepted).
std::string message_of(const std::string& body, bool chat = true) {
  try {
    chat ? parse_chat_request(body, {}) : parse_completion_request(body, {});
  } catch (const ApiError& e) {
    return e.what();
  }
  return "";
}

BOOST_AUTO_TEST_CASE(errors_read_as_people_write) {
  BOOST_TEST(message_of(with({{"temperature", 2.5}})) == "temperature must be in [0, 2]");
  BOOST_TEST(message_of(with({{"top_p", 0}})) == "top_p must be in (0, 1]");
  BOOST_TEST(message_of(with({{"presence_penalty", -3}})) == "presence_penalty must be in [-2, 2]");
  // JSON errors say where, without the library's prefix or the text it last read: a raw line
  // break inside an image's base64 must not bring the base64 back.
  const std::string base64(3000, 'A');
  const std::string body = R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,)" +
                           base64 + "\n" + base64 + R"("}}]}]})";
  const std::string m = message_of(body);
  BOOST_TEST(m.find("not valid JSON") != std::string::npos, m);
  BOOST_TEST(m.find("at line 2, column 0") != std::string::npos, m);
  BOOST_TEST(m.find("AAAAAAAA") == std::string::npos, m);
  BOOST_TEST(m.find("json.exception") == std::string::npos, m);
  BOOST_TEST(m.size() < 200u, m);
  const std::string overflow = message_of(R"({"max_tokens": 1e400})");
  BOOST_TEST(overflow == "the body is not valid JSON: number overflow parsing '1e400'", overflow);
  const std::string truncated = message_of("{\"messages\": [");
  BOOST_TEST(truncated.find("json.exception") == std::string::npos, truncated);
  BOOST_TEST(truncated.find("syntax error while parsing") == std::string::npos, truncated);
  BOOST_TEST(truncated.find("unexpected end of input") != std::string::npos, truncated);
}

BOOST_AUTO_TEST_CASE(model_names_a_served_model_or_404) {
  const std::vector<std::string> served = {"tiny", "gpt-4o"};
  check_model("tiny", served);
  check_model("gpt-4o", served);
  check_model("", served);  // absent: the served model
  try {
    check_model("llama-" + std::string(500, 'x'), served);
    BOOST_FAIL("accepted");
  } catch (const ApiError& e) {
    BOOST_TEST(e.status() == 404);
    BOOST_TEST(e.param() == "model");
    const std::string m = e.what();
    BOOST_TEST(m.find("does not exist") != std::string::npos, m);
    BOOST_TEST(m.find("tiny, gpt-4o") != std::string::npos, m);
    BOOST_TEST(m.size() < 200u, m);  // the name is quoted, bounded
  }
}

BOOST_AUTO_TEST_CASE(malformed_bodies_are_400) {
  for (const std::string& body : std::vector<std::string>{"", "{", "[]", "\"x\"", "{\"messages\": [}", "{\"a\": 1e999}", "{\"a\": \"\xff\"}",
                                 std::string(100000, '[') + std::string(100000, ']')}) {
    BOOST_TEST_CONTEXT(body.substr(0, 20)) { BOOST_TEST(status(body) == 400); }
  }
  BOOST_TEST(refusal("{}") == "400 messages");
}

BOOST_AUTO_TEST_CASE(images_and_their_limits) {
  const json image = {{"type", "image_url"}, {"image_url", {{"url", test::data_uri(kPng)}}}};
  const json text = {{"type", "text"}, {"text", "what?"}};
  const ParsedRequest p = parse_chat_request(with({{"messages", {{{"role", "user"}, {"content", {image, text}}}}}}), {});
  BOOST_REQUIRE(p.request.messages[0].parts.size() == 2u);
  BOOST_TEST(p.request.messages[0].parts[0].is_image);
  BOOST_TEST(p.request.messages[0].parts[0].image == test::read_bytes(kPng), boost::test_tools::per_element());
  BOOST_TEST(p.request.messages[0].parts[1].text == "what?");
  RequestLimits two;
  two.max_images = 2;
  BOOST_TEST(status(with({{"messages", {{{"role", "user"}, {"content", {image, image}}}}}}), true, two) == 0);
  BOOST_TEST(refusal(with({{"messages", {{{"role", "user"}, {"content", {image, image, image}}}}}}), true, two) ==
             "400 messages[0].content[2]");
  BOOST_TEST(status(with({{"messages", {{{"role", "assistant"}, {"content", {image}}}}}})) == 400);
  const json bad = {{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,AAAA"}}}};
  BOOST_TEST(refusal(with({{"messages", {{{"role", "user"}, {"content", {bad}}}}}})) ==
             "422 messages[0].content[0].image_url");
}

BOOST_AUTO_TEST_CASE(tools_and_tool_calls) {
  const json tool = json::parse(R"({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}}}}})");
  const json messages = json::parse(R"([
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
      {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "sunny"}])");
  const ParsedRequest p = parse_chat_request(with({{"messages", messages}, {"tools", {tool}}}), {});
  BOOST_TEST(p.tools);
  BOOST_REQUIRE(p.request.tools.size() == 1u);
  BOOST_TEST(p.request.tools[0] ==
             R"({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}})");
  const ChatTurn& assistant = p.request.messages[1];
  BOOST_TEST(assistant.parts.empty());
  BOOST_REQUIRE(assistant.tool_calls.size() == 2u);
  BOOST_TEST(assistant.tool_calls[0].name == "get_weather");
  BOOST_TEST(assistant.tool_calls[0].arguments == R"({"city": "Paris"})");
  BOOST_TEST(assistant.tool_calls[1].arguments == R"({"city": "Rome"})");
  BOOST_TEST(p.request.messages[2].role == "tool");
  // tool_choice none: the tools are neither rendered nor parsed.
  const ParsedRequest none = parse_chat_request(with({{"tools", {tool}}, {"tool_choice", "none"}}), {});
  BOOST_TEST(!none.tools);
  BOOST_TEST(none.request.tools.empty());
  BOOST_TEST(status(with({{"messages", {{{"role", "user"}, {"content", "x"}, {"tool_calls", json::array()}}}}})) == 400);
}

// The tools the chat-template goldens were rendered with, written as the template's tojson does.
BOOST_AUTO_TEST_CASE(tools_are_written_as_the_template_tojson) {
  std::ifstream in(test::data_dir() + "/tokenizer/chat_goldens.json");
  int compared = 0;
  for (const auto& g : json::parse(in)) {
    if (g["tools"].empty()) continue;
    const ParsedRequest p = parse_chat_request(with({{"tools", g["tools"]}}), {});
    BOOST_TEST(p.request.tools == g["tools_json"].get<std::vector<std::string>>(), boost::test_tools::per_element());
    ++compared;
  }
  BOOST_TEST(compared == 2);
}

BOOST_AUTO_TEST_CASE(completions_take_text_or_token_ids) {
  const ParsedRequest text = parse_completion_request(R"({"model": "m", "prompt": "Once upon"})", {});
  BOOST_TEST(text.request.prompt == "Once upon");
  BOOST_TEST(text.request.messages.empty());
  BOOST_TEST(text.request.max_tokens == 16);  // OpenAI's completions default
  const ParsedRequest ids = parse_completion_request(R"({"prompt": [1, 2, 3], "max_tokens": 4})", {});
  BOOST_TEST(ids.request.prompt_ids == (std::vector<int32_t>{1, 2, 3}), boost::test_tools::per_element());
  BOOST_TEST(parse_completion_request(R"({"prompt": [[5, 6]]})", {}).request.prompt_ids == (std::vector<int32_t>{5, 6}),
             boost::test_tools::per_element());
  BOOST_TEST(parse_completion_request(R"({"prompt": ["x"]})", {}).request.prompt == "x");
  try {
    parse_completion_request(R"({"prompt": ["a", "b"]})", {});
  } catch (const ApiError& e) {
    BOOST_TEST(std::string(e.what()).find("a batch is not supported") != std::string::npos, e.what());
  }
  for (const char* bad : {R"({})", R"({"prompt": ""})", R"({"prompt": []})", R"({"prompt": ["a", "b"]})",
                          R"({"prompt": [1, -2]})", R"({"prompt": [1, 3000000000]})", R"({"prompt": [1.5]})", R"({"prompt": 7})"}) {
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST(status(bad, false) == 400); }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(response_format_becomes_the_requests_schema) {
  BOOST_TEST(parse_chat_request(with({{"response_format", {{"type", "text"}}}}), {}).request.structured.schema.empty());
  BOOST_TEST(parse_chat_request(with(json::object()), {}).request.structured.schema.empty());
  BOOST_TEST(parse_chat_request(with({{"response_format", {{"type", "json_object"}}}}), {}).request.structured.schema ==
             R"({"type":"object"})");
  // The schema as given, its properties' order kept (it is the order the answer writes them in).
  const json schema = {{"type", "object"},
                       {"properties", {{"zeta", {{"type", "integer"}}}, {"alpha", {{"enum", {"a", "b"}}}}}},
                       {"required", {"zeta"}}, {"additionalProperties", false}};
  const json format = {{"type", "json_schema"}, {"json_schema", {{"name", "thing"}, {"schema", schema}, {"strict", true}}}};
  BOOST_TEST(parse_chat_request(with({{"response_format", format}}), {}).request.structured.schema == schema.dump());
}

BOOST_AUTO_TEST_CASE(response_formats_pio_cannot_follow_are_400_naming_them) {
  const auto schema_format = [](const json& schema) {
    return with({{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", schema}}}}}});
  };
  BOOST_TEST(refusal(with({{"response_format", "json"}})) == "400 response_format");
  BOOST_TEST(refusal(with({{"response_format", {{"type", "yaml"}}}})) == "400 response_format.type");
  BOOST_TEST(refusal(with({{"response_format", {{"type", "json_schema"}}}})) == "400 response_format.json_schema");
  BOOST_TEST(refusal(with({{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}}}}}})) ==
             "400 response_format.json_schema.schema");
  BOOST_TEST(refusal(with({{"response_format", {{"type", "json_schema"}, {"json_schema", {{"schema", json::object()}, {"strict", "yes"}}}}}})) ==
             "400 response_format.json_schema.strict");
  BOOST_TEST(refusal(schema_format({{"type", "string"}, {"format", "email"}})) == "400 response_format.json_schema.schema");
  BOOST_TEST(refusal(schema_format({{"type", "string"}, {"format", "date"}})) == "0 ");
  try {
    parse_chat_request(schema_format({{"type", "object"}, {"properties", {{"n", {{"type", "integer"}, {"minimum", 0}}}}}}), {});
    BOOST_ERROR("accepted");
  } catch (const ApiError& e) {
    BOOST_TEST(std::string(e.what()) == "response schema at #/properties/n: keyword 'minimum' is not supported");
  }
  BOOST_TEST(refusal(schema_format({{"$ref", "#/$defs/a"}, {"$defs", {{"a", {{"$ref", "#/$defs/a"}}}}}})) ==
             "400 response_format.json_schema.schema");
}

BOOST_AUTO_TEST_CASE(a_required_tool_call_constrains_the_answer_to_one_of_the_tools) {
  const json weather = json::parse(R"({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
      "properties": {"city": {"$ref": "#/$defs/city"}}, "required": ["city"], "$defs": {"city": {"type": "string"}}}}})");
  const json time = json::parse(R"({"type": "function", "function": {"name": "get_time"}})");
  const ParsedRequest any = parse_chat_request(with({{"tools", {weather, time}}, {"tool_choice", "required"}}), {});
  BOOST_TEST(any.tools);
  BOOST_TEST(any.request.structured.prefix == "<tool_call>\n");
  BOOST_TEST(any.request.structured.suffix == "\n</tool_call>");
  const json schema = json::parse(any.request.structured.schema);
  BOOST_REQUIRE(schema["anyOf"].size() == 2u);
  BOOST_TEST(schema["anyOf"][0]["properties"]["name"]["const"] == "get_weather");
  BOOST_TEST(schema["anyOf"][1]["properties"]["arguments"] == json({{"type", "object"}}));  // no parameters: any object
  BOOST_TEST(schema["$defs"]["city"] == json({{"type", "string"}}));  // where the tool's $ref points
  const ParsedRequest named = parse_chat_request(
      with({{"tools", {weather, time}}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_time"}}}}}}), {});
  const json one = json::parse(named.request.structured.schema);
  BOOST_REQUIRE(one["anyOf"].size() == 1u);
  BOOST_TEST(one["anyOf"][0]["properties"]["name"]["const"] == "get_time");
  // auto and none constrain nothing.
  BOOST_TEST(parse_chat_request(with({{"tools", {weather}}, {"tool_choice", "auto"}}), {}).request.structured.schema.empty());
  // Refusals.
  BOOST_TEST(refusal(with({{"tool_choice", "required"}})) == "400 tool_choice");
  BOOST_TEST(refusal(with({{"tools", {weather}}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}})) ==
             "400 tool_choice");
  BOOST_TEST(refusal(with({{"tools", {weather}}, {"tool_choice", {{"type", "function"}}}})) == "400 tool_choice");
  BOOST_TEST(refusal(with({{"tools", {weather}}, {"tool_choice", "required"}, {"response_format", {{"type", "json_object"}}}})) ==
             "400 response_format");
  const json odd = json::parse(R"({"type": "function", "function": {"name": "f", "parameters": {"type": "object",
      "properties": {"when": {"type": "string", "format": "email"}}}}})");
  BOOST_TEST(refusal(with({{"tools", {odd}}, {"tool_choice", "required"}})) == "400 tools");
}
