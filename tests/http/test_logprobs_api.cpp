// logprobs, top_logprobs, logit_bias, echo and n: parsed into SamplingOptions with 400s naming
// the field; written in OpenAI's shapes (chat content entries, completions' legacy lists),
// whole and streamed, aligned with the text that goes out. /tokenize and /detokenize with the
// real Qwen tokenizer: vLLM's shapes, round trips, refusals.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "http/api_error.h"
#include "http/openai_request.h"
#include "http/openai_response.h"
#include "http/tokenize.h"
#include "serving/chat_request.h"

using namespace pio;
using namespace pio::http;
using json = nlohmann::ordered_json;

namespace {

// "STATUS PARAM" of the refusal, "0 " when accepted.
std::string refusal(const json& extra, bool chat = true) {
  json body = chat ? json{{"messages", {{{"role", "user"}, {"content", "hi"}}}}} : json{{"prompt", "hi"}};
  body.update(extra);
  try {
    chat ? parse_chat_request(body.dump(), {}) : parse_completion_request(body.dump(), {});
  } catch (const ApiError& e) {
    return std::to_string(e.status()) + " " + e.param();
  }
  return "0 ";
}

std::string token_text(int32_t id) { return "t" + std::to_string(id); }

TokenLogprobs lp(int32_t id, float logprob, std::vector<TokenLogprob> top = {}) { return {{id, logprob}, std::move(top)}; }

StreamEvent final_event() {
  StreamEvent e;
  e.final = true;
  e.finish_reason = "stop";
  return e;
}

std::vector<nlohmann::json> events(const std::string& sse) {
  std::vector<nlohmann::json> out;
  for (size_t pos = 0; pos < sse.size();) {
    const size_t end = sse.find("\n\n", pos);
    BOOST_REQUIRE(end != std::string::npos);
    const std::string line = sse.substr(pos + 6, end - pos - 6);
    out.push_back(line == "[DONE]" ? nlohmann::json("[DONE]") : nlohmann::json::parse(line));
    pos = end + 2;
  }
  return out;
}

const Tokenizer& qwen() {
  static const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(PIO_QWEN_TOKENIZER_DIR);
  return *tokenizer;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(logprobs_api)

BOOST_AUTO_TEST_CASE(logprobs_and_logit_bias_are_parsed_and_checked) {
  json body = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"logprobs", true}, {"top_logprobs", 20},
               {"logit_bias", {{"15", -100}, {"151643", 2.5}}}};
  const SamplingOptions s = parse_chat_request(body.dump(), {}).request.sampling;
  BOOST_TEST(s.logprobs);
  BOOST_TEST(s.top_logprobs == 20);
  BOOST_TEST_REQUIRE(s.logit_bias.size() == 2u);
  BOOST_TEST(s.logit_bias[0].id == 15);
  BOOST_TEST(s.logit_bias[0].bias == -100.0f);
  BOOST_TEST(s.logit_bias[1].id == 151643);
  BOOST_TEST(s.logit_bias[1].bias == 2.5f);
  const SamplingOptions off = parse_chat_request(json{{"messages", body["messages"]}, {"logprobs", nullptr}}.dump(), {}).request.sampling;
  BOOST_TEST(!off.logprobs);
  BOOST_TEST(off.logit_bias.empty());

  BOOST_TEST(refusal({{"logprobs", "yes"}}) == "400 logprobs");
  BOOST_TEST(refusal({{"logprobs", true}, {"top_logprobs", 21}}) == "400 top_logprobs");
  BOOST_TEST(refusal({{"logprobs", true}, {"top_logprobs", -1}}) == "400 top_logprobs");
  BOOST_TEST(refusal({{"top_logprobs", 2}}) == "400 top_logprobs");  // without logprobs: true
  BOOST_TEST(refusal({{"logprobs", false}, {"top_logprobs", 0}}) == "400 top_logprobs");
  for (const json& bad : {json{{"abc", 1}}, json{{"-1", 1}}, json{{"1.5", 1}}, json{{"", 1}}, json{{"99999999999", 1}},
                          json{{"5", 100.5}}, json{{"5", -101}}, json{{"5", "1"}}, json(json::array({1, 2})), json(3)})
    BOOST_TEST(refusal({{"logit_bias", bad}}) == "400 logit_bias", bad.dump());
  json many = json::object();
  for (size_t i = 0; i <= kMaxLogitBias; ++i) many[std::to_string(i)] = 1;
  BOOST_TEST(refusal({{"logit_bias", many}}) == "400 logit_bias");
  many.erase("0");
  BOOST_TEST(refusal({{"logit_bias", many}}) == "0 ");

  // Completions: logprobs is the number of top ids, 0 to 5.
  const ParsedRequest c = parse_completion_request(json{{"prompt", "hi"}, {"logprobs", 3}}.dump(), {});
  BOOST_TEST(c.request.sampling.logprobs);
  BOOST_TEST(c.request.sampling.top_logprobs == 3);
  BOOST_TEST(parse_completion_request(json{{"prompt", "hi"}, {"logprobs", 0}}.dump(), {}).request.sampling.logprobs);
  BOOST_TEST(!parse_completion_request(json{{"prompt", "hi"}}.dump(), {}).request.sampling.logprobs);
  BOOST_TEST(refusal({{"logprobs", 6}}, false) == "400 logprobs");
  BOOST_TEST(refusal({{"logprobs", true}}, false) == "400 logprobs");
  BOOST_TEST(parse_completion_request(json{{"prompt", "hi"}, {"echo", true}}.dump(), {}).echo);
  BOOST_TEST(refusal({{"echo", 1}}, false) == "400 echo");
  BOOST_TEST(refusal({{"echo", true}, {"logprobs", 1}}, false) == "400 echo");
}

BOOST_AUTO_TEST_CASE(whole_answers_carry_openais_logprobs_shapes) {
  const std::vector<TokenLogprobs> tokens{lp(5, -0.5f, {{5, -0.5f}, {9, -1.5f}}),
                                          lp(7, -std::numeric_limits<float>::infinity(), {{5, -0.25f}, {9, -2.0f}})};
  ResponseInfo chat{"chatcmpl-1", 1, "m", true, false, token_text, ""};
  const auto body = nlohmann::json::parse(completion_body(chat, "ab", final_event(), tokens));
  const auto& content = body["choices"][0]["logprobs"]["content"];
  BOOST_TEST_REQUIRE(content.size() == 2u);
  BOOST_TEST(content[0]["token"] == "t5");
  BOOST_TEST(content[0]["logprob"] == -0.5);
  BOOST_TEST(content[0]["bytes"] == nlohmann::json({'t', '5'}));
  BOOST_TEST(content[0]["top_logprobs"].size() == 2u);
  BOOST_TEST(content[0]["top_logprobs"][1]["token"] == "t9");
  BOOST_TEST(content[0]["top_logprobs"][1]["logprob"] == -1.5);
  BOOST_TEST(content[1]["logprob"] == -9999.0);  // zero probability: OpenAI's floor, not null
  BOOST_TEST(body["choices"][0]["logprobs"]["refusal"].is_null());
  ResponseInfo plain = chat;
  plain.logprobs = nullptr;
  BOOST_TEST(nlohmann::json::parse(completion_body(plain, "ab", final_event(), tokens))["choices"][0]["logprobs"].is_null());

  // Completions: the legacy lists, the chosen token among the top ones, offsets past the echo.
  ResponseInfo completion{"cmpl-1", 1, "m", false, false, token_text, "Q:"};
  const auto c = nlohmann::json::parse(completion_body(completion, "t5t7", final_event(), tokens));
  BOOST_TEST(c["choices"][0]["text"] == "Q:t5t7");
  const auto& l = c["choices"][0]["logprobs"];
  BOOST_TEST(l["tokens"] == nlohmann::json({"t5", "t7"}));
  BOOST_TEST(l["token_logprobs"] == nlohmann::json({-0.5, -9999.0}));
  BOOST_TEST(l["top_logprobs"][1] == nlohmann::json({{"t5", -0.25}, {"t7", -9999.0}, {"t9", -2.0}}));
  BOOST_TEST(l["text_offset"] == nlohmann::json({2, 4}));
}

// Streamed: logprobs go with the chunk whose text they made; ids whose text is not out yet
// (part of a character, held tool-call text) wait for the next chunk, and the rest (an
// end-of-turn id) come with the finish chunk.
BOOST_AUTO_TEST_CASE(streamed_logprobs_go_with_their_text) {
  StreamFormatter chat({"chatcmpl-1", 1, "m", true, false, token_text, ""}, false);
  chat.start();
  BOOST_TEST(chat.delta("", std::vector<TokenLogprobs>{lp(1, -0.1f)}).empty());
  auto first = events(chat.delta("é", std::vector<TokenLogprobs>{lp(2, -0.2f)}));
  BOOST_TEST_REQUIRE(first.size() == 1u);
  const auto& content = first[0]["choices"][0]["logprobs"]["content"];
  BOOST_TEST_REQUIRE(content.size() == 2u);
  BOOST_TEST(content[0]["token"] == "t1");
  BOOST_TEST(content[1]["token"] == "t2");
  StreamEvent end = final_event();
  end.logprobs = {lp(3, -0.3f)};
  const auto last = events(chat.finish(end));
  BOOST_TEST(last.at(0)["choices"][0]["finish_reason"] == "stop");
  BOOST_TEST(last.at(0)["choices"][0]["logprobs"]["content"][0]["token"] == "t3");

  StreamFormatter completion({"cmpl-1", 1, "m", false, false, token_text, "Q:"}, false);
  const auto echo = events(completion.start());
  BOOST_TEST(echo.at(0)["choices"][0]["text"] == "Q:");
  const auto a = events(completion.delta("t4", std::vector<TokenLogprobs>{lp(4, -0.4f)}));
  BOOST_TEST(a.at(0)["choices"][0]["logprobs"]["text_offset"] == nlohmann::json({2}));
  const auto b = events(completion.delta("t55", std::vector<TokenLogprobs>{lp(55, -0.5f)}));
  BOOST_TEST(b.at(0)["choices"][0]["logprobs"]["text_offset"] == nlohmann::json({4}));
  BOOST_TEST(b.at(0)["choices"][0]["logprobs"]["tokens"] == nlohmann::json({"t55"}));

  StreamFormatter none({"chatcmpl-2", 1, "m", true, false, nullptr, ""}, false);
  BOOST_TEST(events(none.delta("x", std::vector<TokenLogprobs>{lp(1, -0.1f)})).at(0)["choices"][0]["logprobs"].is_null());
}

// n choices: each with its index; usage counts the prompt once and every choice's tokens;
// streamed, each formatter writes its own index and end() writes one usage chunk and [DONE].
BOOST_AUTO_TEST_CASE(several_choices_carry_their_index) {
  StreamEvent a = final_event(), b = final_event();
  a.usage = {10, 4, 2};
  b.usage = {10, 6, 2};
  b.finish_reason = "length";
  a.seed = 7;
  b.seed = 8;
  const std::vector<ChoiceOutput> choices{{"x", a, {lp(1, -0.1f)}}, {"yz", b, {lp(2, -0.2f)}}};
  const auto body = nlohmann::json::parse(completion_body({"chatcmpl-1", 1, "m", true, false, token_text, ""}, choices));
  BOOST_TEST_REQUIRE(body["choices"].size() == 2u);
  BOOST_TEST(body["choices"][1]["index"] == 1);
  BOOST_TEST(body["choices"][1]["message"]["content"] == "yz");
  BOOST_TEST(body["choices"][1]["finish_reason"] == "length");
  BOOST_TEST(body["choices"][1]["logprobs"]["content"][0]["token"] == "t2");
  BOOST_TEST(body["usage"]["prompt_tokens"] == 10);
  BOOST_TEST(body["usage"]["completion_tokens"] == 10);
  BOOST_TEST(body["seed"] == 7);

  StreamFormatter second({"cmpl-1", 1, "m", false, false, nullptr, ""}, true, 1);
  BOOST_TEST(events(second.delta("hi")).at(0)["choices"][0]["index"] == 1);
  const auto tail = events(second.finish_choice(b));
  BOOST_TEST(tail.size() == 1u);
  BOOST_TEST(tail[0]["choices"][0]["index"] == 1);
  const auto end = events(second.end({10, 10, 0}));
  BOOST_TEST_REQUIRE(end.size() == 2u);
  BOOST_TEST(end[0]["usage"]["completion_tokens"] == 10);
  BOOST_TEST(end[1] == "[DONE]");
  BOOST_TEST(refusal({{"n", 17}}) == "400 n");
  BOOST_TEST(parse_chat_request(json{{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"n", 16}}.dump(), {}).n == 16);
}

BOOST_AUTO_TEST_CASE(tokenize_and_detokenize_as_vllm) {
  const Tokenizer& tok = qwen();
  const std::vector<std::string> served{"qwen", "alias"};
  const std::string text = "Hello, wörld! <|im_end|>";
  const auto t = nlohmann::json::parse(tokenize_body(json{{"prompt", text}, {"add_special_tokens", true}}.dump(), tok, {}, 262144, served));
  const std::vector<int32_t> ids = t["tokens"].get<std::vector<int32_t>>();
  BOOST_TEST(ids == tok.encode(text));
  BOOST_TEST(ids.back() == *tok.token_id("<|im_end|>"));  // added tokens parsed, as a completion's prompt
  BOOST_TEST(t["count"] == ids.size());
  BOOST_TEST(t["max_model_len"] == 262144);
  const auto d = nlohmann::json::parse(detokenize_body(json{{"tokens", ids}}.dump(), tok, 64, served));
  BOOST_TEST(d["prompt"] == text);

  // Messages: the chat template's ids with the generation prompt, as a chat request gets.
  const json messages = {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi"}}};
  const auto m = nlohmann::json::parse(tokenize_body(json{{"messages", messages}}.dump(), tok, {}, 0, served));
  ChatRequest r;
  r.messages = {{"system", {{"Be brief.", {}, false}}}, {"user", {{"Hi", {}, false}}}};
  BOOST_TEST(m["tokens"].get<std::vector<int32_t>>() == tokenize_chat(tok, r).ids);
  const std::string rendered = nlohmann::json::parse(detokenize_body(json{{"tokens", m["tokens"]}}.dump(), tok, 64, served))["prompt"];
  BOOST_TEST(rendered.find("<|im_start|>assistant\n") != std::string::npos);

  const auto refused = [&](const json& body, bool detok = false) {
    try {
      detok ? detokenize_body(body.dump(), tok, 64, served) : tokenize_body(body.dump(), tok, {}, 0, served);
    } catch (const ApiError& e) {
      return std::to_string(e.status()) + " " + e.param();
    }
    return std::string("0 ");
  };
  BOOST_TEST(refused(json{{"prompt", "a"}, {"messages", messages}}) == "400 prompt");
  BOOST_TEST(refused(json::object()) == "400 prompt");
  BOOST_TEST(refused(json{{"prompt", 5}}) == "400 prompt");
  BOOST_TEST(refused(json{{"prompt", "a"}, {"add_special_tokens", "yes"}}) == "400 add_special_tokens");
  BOOST_TEST(refused(json{{"prompt", "a"}, {"temperature", 1}}) == "400 temperature");
  BOOST_TEST(refused(json{{"messages", json::array()}}) == "400 messages");
  BOOST_TEST(refused(json{{"tokens", {1, tok.vocab_size()}}}, true) == "400 tokens");
  BOOST_TEST(refused(json{{"tokens", {1, -1}}}, true) == "400 tokens");
  BOOST_TEST(refused(json{{"tokens", {1, 2.5}}}, true) == "400 tokens");
  const std::vector<int32_t> first = {ids[0]};  // ids[0] * 1.0 is that id, as in every integer field
  BOOST_TEST(nlohmann::json::parse(detokenize_body(json{{"tokens", {ids[0] * 1.0}}}.dump(), tok, 64, served))["prompt"] ==
             tok.decode(first));
  BOOST_TEST(refused(json{{"tokens", "1 2"}}, true) == "400 tokens");
  BOOST_TEST(refused(json{{"tokens", {1}}, {"x", 1}}, true) == "400 x");
  BOOST_TEST(refused(json{{"tokens", json::array()}}, true) == "0 ");
  // The model, when named, is one the node serves (any of its names), as for a chat request.
  BOOST_TEST(refused(json{{"prompt", "a"}, {"model", "alias"}}) == "0 ");
  BOOST_TEST(refused(json{{"tokens", {1}}, {"model", "qwen"}}, true) == "0 ");
  BOOST_TEST(refused(json{{"prompt", "a"}, {"model", "other"}}) == "404 model");
  BOOST_TEST(refused(json{{"tokens", {1}}, {"model", "other"}}, true) == "404 model");
  BOOST_TEST(refused(json{{"prompt", "a"}, {"model", 3}}) == "400 model");
}

// The pipeline refuses a logit_bias or prompt id outside the vocabulary (any client, not only
// HTTP), naming the field that held it.
BOOST_AUTO_TEST_CASE(logit_bias_and_prompt_ids_are_checked_against_the_vocabulary) {
  const auto refused_field = [](const ChatRequest& r) {
    try {
      tokenize_chat(qwen(), r);
    } catch (const TokenIdError& e) {
      return e.field() + ": " + e.what();
    }
    return std::string("accepted");
  };
  ChatRequest r;
  r.prompt = "hi";
  r.sampling.logit_bias = {{qwen().vocab_size() - 1, 1.0f}};
  BOOST_TEST(refused_field(r) == "accepted");
  r.sampling.logit_bias = {{qwen().vocab_size(), 1.0f}};
  BOOST_TEST(refused_field(r).find("logit_bias: logit_bias: token id") == 0, refused_field(r));
  r.sampling.logit_bias = {{-1, 1.0f}};
  BOOST_TEST(refused_field(r).find("logit_bias: ") == 0, refused_field(r));
  r.sampling.logit_bias.clear();
  r.prompt_ids = {1, qwen().vocab_size() - 1};
  BOOST_TEST(refused_field(r) == "accepted");
  r.prompt_ids = {1, qwen().vocab_size()};
  BOOST_TEST(refused_field(r).find("prompt: prompt token id") == 0, refused_field(r));
  r.prompt_ids = {-5};
  BOOST_TEST(refused_field(r).find("prompt: prompt token id -5") == 0, refused_field(r));
}

BOOST_AUTO_TEST_SUITE_END()
