#include "http/tokenize.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "http/api_error.h"
#include "http/json_integer.h"
#include "model/errors.h"
#include "serving/chat_request.h"

namespace pio::http {
namespace {

using json = nlohmann::ordered_json;

void only_fields(const json& j, std::initializer_list<const char*> known) {
  for (const auto& item : j.items()) {
    const std::string& key = item.key();  // not a structured binding: clang 14 cannot capture one
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; }))
      throw ApiError(400, "unknown field " + key.substr(0, 64), key.substr(0, 64));
  }
}

// The request's `model`, when given: a string naming a model the node serves (check_model).
void check_model_field(const json& j, const std::vector<std::string>& served) {
  if (!j.contains("model")) return;
  if (!j["model"].is_string()) throw ApiError(400, "model must be a string", "model");
  check_model(j["model"].get<std::string>(), served);
}

}  // namespace

std::string tokenize_body(std::string_view body, const Tokenizer& tokenizer, const RequestLimits& limits,
                          int64_t max_model_len, const std::vector<std::string>& served) {
  const json j = parse_json_object(body, limits.max_depth);
  only_fields(j, {"prompt", "messages", "tools", "add_special_tokens", "model"});
  check_model_field(j, served);
  if (j.contains("add_special_tokens") && !j["add_special_tokens"].is_boolean())
    throw ApiError(400, "add_special_tokens must be a boolean", "add_special_tokens");
  if (j.contains("prompt") == j.contains("messages")) throw ApiError(400, "give either prompt or messages", "prompt");
  ChatRequest request;
  if (j.contains("prompt")) {
    if (!j["prompt"].is_string()) throw ApiError(400, "prompt must be a string", "prompt");
    if (j.contains("tools")) throw ApiError(400, "tools go with messages", "tools");
    request.prompt = j["prompt"].get<std::string>();
  } else {
    json chat = {{"messages", j["messages"]}};
    if (j.contains("tools")) chat["tools"] = j["tools"];
    request = parse_chat_request(chat.dump(), limits).request;
  }
  std::vector<int32_t> ids;
  if (!request.messages.empty() || !request.prompt.empty()) {
    try {
      ids = tokenize_chat(tokenizer, request).ids;
    } catch (const ModelError& e) {
      throw ApiError(400, e.what(), j.contains("prompt") ? "prompt" : "messages");
    }
  }
  return json{{"tokens", ids}, {"count", ids.size()}, {"max_model_len", max_model_len}}.dump();
}

std::string detokenize_body(std::string_view body, const Tokenizer& tokenizer, int max_depth,
                            const std::vector<std::string>& served) {
  const json j = parse_json_object(body, max_depth);
  only_fields(j, {"tokens", "model"});
  check_model_field(j, served);
  if (!j.contains("tokens") || !j["tokens"].is_array()) throw ApiError(400, "tokens must be a list of token ids", "tokens");
  std::vector<int32_t> ids;
  for (const json& id : j["tokens"]) {
    try {
      ids.push_back(static_cast<int32_t>(integer_in(id, "tokens", 0, tokenizer.vocab_size() - 1)));
    } catch (const ApiError&) {
      throw ApiError(400, "tokens: each must be a token id in [0, " + std::to_string(tokenizer.vocab_size() - 1) + "]",
                     "tokens");
    }
  }
  return json{{"prompt", tokenizer.decode(ids)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace pio::http
