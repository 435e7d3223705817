// Response bodies and server-sent events in OpenAI's shapes.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "http/api_error.h"
#include "http/openai_response.h"

using namespace pio;
using namespace pio::http;
using nlohmann::json;

namespace {

StreamEvent final_event(const std::string& reason) {
  StreamEvent e;
  e.final = true;
  e.finish_reason = reason;
  e.usage = {12, 5, 4};
  e.timings.ttft_ms = 40;
  e.seed = 9007199254740993u;  // 2^53 + 1: not a double
  return e;
}

// The JSON of each `data:` event of a stream, "[DONE]" as a string.
std::vector<json> events(const std::string& sse) {
  std::vector<json> out;
  size_t pos = 0;
  while (pos < sse.size()) {
    const size_t end = sse.find("\n\n", pos);
    BOOST_REQUIRE(end != std::string::npos);
    const std::string line = sse.substr(pos, end - pos);
    BOOST_REQUIRE(line.rfind("data: ", 0) == 0);
    out.push_back(line == "data: [DONE]" ? json("[DONE]") : json::parse(line.substr(6)));
    pos = end + 2;
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(openai_response)

BOOST_AUTO_TEST_CASE(chat_completion_body) {
  const json body = json::parse(completion_body({"chatcmpl-1", 100, "tiny", true, false}, "Hello.", final_event("length")));
  BOOST_TEST(body["object"] == "chat.completion");
  BOOST_TEST(body["id"] == "chatcmpl-1");
  BOOST_TEST(body["model"] == "tiny");
  BOOST_TEST(body["choices"][0]["message"]["role"] == "assistant");
  BOOST_TEST(body["choices"][0]["message"]["content"] == "Hello.");
  BOOST_TEST(body["choices"][0]["finish_reason"] == "length");
  BOOST_TEST(body["usage"]["prompt_tokens"] == 12);
  BOOST_TEST(body["usage"]["completion_tokens"] == 5);
  BOOST_TEST(body["usage"]["total_tokens"] == 17);
  BOOST_TEST(body["usage"]["prompt_tokens_details"]["cached_tokens"] == 4);
  BOOST_TEST(body["timings"]["ttft_ms"] == 40.0);
  BOOST_TEST(body["seed"].get<int64_t>() == 9007199254740993);
}

BOOST_AUTO_TEST_CASE(tool_calls_in_the_body) {
  const std::string text = "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>";
  const json body = json::parse(completion_body({"chatcmpl-2", 1, "m", true, true}, text, final_event("stop")));
  const json& message = body["choices"][0]["message"];
  BOOST_TEST(body["choices"][0]["finish_reason"] == "tool_calls");
  BOOST_TEST(message["content"].is_null());
  BOOST_TEST(message["tool_calls"][0]["type"] == "function");
  BOOST_TEST(message["tool_calls"][0]["id"] == "call_chatcmpl-2_0");
  BOOST_TEST(message["tool_calls"][0]["function"]["name"] == "f");
  BOOST_TEST(message["tool_calls"][0]["function"]["arguments"] == "{\"a\": 1}");
  // Without tools in the request the same text is plain content.
  const json plain = json::parse(completion_body({"chatcmpl-3", 1, "m", true, false}, text, final_event("stop")));
  BOOST_TEST(plain["choices"][0]["message"]["content"] == text);
  BOOST_TEST(plain["choices"][0]["finish_reason"] == "stop");
}

BOOST_AUTO_TEST_CASE(text_completion_body) {
  const json body = json::parse(completion_body({"cmpl-1", 1, "m", false, false}, " there", final_event("stop")));
  BOOST_TEST(body["object"] == "text_completion");
  BOOST_TEST(body["choices"][0]["text"] == " there");
  BOOST_TEST(!body["choices"][0].contains("message"));
  BOOST_TEST(body["seed"].get<int64_t>() == 9007199254740993);
  // A seed past 2^63 - 1 reads as the signed value that the request's `seed` maps back to it;
  // no seed (a request refused before it ran), no field.
  StreamEvent wide = final_event("stop"), none = final_event("stop");
  wide.seed = ~uint64_t(0);
  none.seed.reset();
  BOOST_TEST(json::parse(completion_body({"cmpl-1", 1, "m", false, false}, "", wide))["seed"].get<int64_t>() == -1);
  BOOST_TEST(!json::parse(completion_body({"cmpl-1", 1, "m", false, false}, "", none)).contains("seed"));
}

BOOST_AUTO_TEST_CASE(chat_stream_with_usage) {
  StreamFormatter f({"chatcmpl-4", 7, "m", true, false}, true);
  StreamEvent last = final_event("stop");
  last.text = "!";
  std::string sse = f.start();  // one call at a time: the formatter has state
  sse += f.delta("Hi");
  sse += f.delta("");
  sse += f.finish(last);
  const auto e = events(sse);
  BOOST_REQUIRE(e.size() == 6u);
  BOOST_TEST(e[0]["object"] == "chat.completion.chunk");
  BOOST_TEST(e[0]["choices"][0]["delta"]["role"] == "assistant");
  BOOST_TEST(e[0]["usage"].is_null());
  BOOST_TEST(e[1]["choices"][0]["delta"]["content"] == "Hi");
  BOOST_TEST(e[2]["choices"][0]["delta"]["content"] == "!");
  BOOST_TEST(e[3]["choices"][0]["finish_reason"] == "stop");
  BOOST_TEST(e[3]["choices"][0]["delta"].empty());
  BOOST_TEST(e[3]["timings"]["ttft_ms"] == 40.0);
  BOOST_TEST(e[3]["seed"].get<int64_t>() == 9007199254740993);
  BOOST_TEST(!e[1].contains("seed"));
  BOOST_TEST(e[4]["choices"].empty());
  BOOST_TEST(e[4]["usage"]["total_tokens"] == 17);
  BOOST_TEST(e[4]["usage"]["prompt_tokens_details"]["cached_tokens"] == 4);
  BOOST_TEST(e[5] == "[DONE]");
}

BOOST_AUTO_TEST_CASE(stream_without_usage_has_no_usage_chunk) {
  StreamFormatter f({"cmpl-5", 7, "m", false, false}, false);
  std::string sse = f.start();
  sse += f.delta("a");
  sse += f.finish(final_event("length"));
  const auto e = events(sse);
  BOOST_REQUIRE(e.size() == 3u);  // no role chunk for completions
  BOOST_TEST(e[0]["object"] == "text_completion");
  BOOST_TEST(e[0]["choices"][0]["text"] == "a");
  BOOST_TEST(!e[0].contains("usage"));
  BOOST_TEST(e[1]["choices"][0]["finish_reason"] == "length");
  BOOST_TEST(e[2] == "[DONE]");
}

BOOST_AUTO_TEST_CASE(streamed_tool_calls) {
  StreamFormatter f({"chatcmpl-6", 7, "m", true, true}, false);
  std::string sse = f.start();
  sse += f.delta("Ok. ");
  sse += f.delta("<tool_call>\n{\"name\": \"f\", ");
  sse += f.delta("\"arguments\": {}}\n</tool_call>");
  sse += f.finish(final_event("stop"));
  const auto e = events(sse);
  BOOST_REQUIRE(e.size() == 5u);
  BOOST_TEST(e[1]["choices"][0]["delta"]["content"] == "Ok. ");
  const json& call = e[2]["choices"][0]["delta"]["tool_calls"][0];
  BOOST_TEST(call["index"] == 0);
  BOOST_TEST(call["function"]["name"] == "f");
  BOOST_TEST(call["function"]["arguments"] == "{}");
  BOOST_TEST(e[3]["choices"][0]["finish_reason"] == "tool_calls");
}

BOOST_AUTO_TEST_CASE(errors_in_openai_shape) {
  const json e = json::parse(error_body(422, "bad image", "messages[0].content[0].image_url"));
  BOOST_TEST(e["error"]["message"] == "bad image");
  BOOST_TEST(e["error"]["type"] == "invalid_request_error");
  BOOST_TEST(e["error"]["param"] == "messages[0].content[0].image_url");
  BOOST_TEST(e["error"]["code"] == 422);
  BOOST_TEST(json::parse(error_body(401, "no"))["error"]["param"].is_null());
  BOOST_TEST(json::parse(error_body(429, "slow down"))["error"]["type"] == "rate_limit_error");
  BOOST_TEST(status_of(ErrorCode::bad_request) == 400);
  BOOST_TEST(status_of(ErrorCode::bad_image) == 422);
  BOOST_TEST(status_of(ErrorCode::overloaded) == 503);
  BOOST_TEST(status_of(ErrorCode::deadline_exceeded) == 504);
  BOOST_TEST(status_of(ErrorCode::internal) == 500);
  const auto s = events(sse_error(503, "busy"));
  BOOST_REQUIRE(s.size() == 2u);
  BOOST_TEST(s[0]["error"]["code"] == 503);
  BOOST_TEST(s[1] == "[DONE]");
}

BOOST_AUTO_TEST_SUITE_END()
