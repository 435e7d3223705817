// OpenAI request bodies (POST /v1/chat/completions, POST /v1/completions) turned into the
// node's ChatRequest, checked field by field: a field of the wrong type or out of its range is
// a 400 naming it, so is a field pio does not implement (fields OpenAI documents as hints are
// taken and ignored), images are loaded and probed (media.h).
// References: the OpenAI API reference (Create chat completion, Create completion) and vLLM's
// extensions top_k, min_p and repetition_penalty. logprobs and top_logprobs (chat: a boolean and
// 0..20; completions: logprobs 0..5) go to SamplingOptions, as does logit_bias (an object of
// token id strings to biases in [-100, 100]; ids are checked against the vocabulary later);
// n (1 to kMaxChoices) to ParsedRequest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/media.h"
#include "messages/chat.h"

namespace pio::http {

// What a request's sampling starts from for the fields it leaves out: OpenAI's (temperature 1,
// no truncation), or the checkpoint's generation_config.json (pio-node --generation-config auto,
// as vLLM).
struct SamplingDefaults {
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
};

struct RequestLimits {
  int32_t max_tokens = 4096;      // the largest max_tokens a request may ask
  int32_t default_max_tokens = 1024;  // when a chat request gives none (completions: 16, as OpenAI)
  SamplingDefaults sampling;
  int max_images = 8;             // per request
  int max_depth = 64;             // JSON nesting
  MediaPolicy media;
};

struct ParsedRequest {
  ChatRequest request;
  std::string model;           // as the client named it ("" when absent)
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool tools = false;          // tool calls are parsed out of the answer
  bool echo = false;           // completions: the prompt is prepended to the answer's text
  int32_t n = 1;               // choices, each its own request (seed + i when seeded)
  // Each image's field in the body, in the order the node numbers them ("messages[0].content[1].image_url"):
  // the param of an error the node finds in image i later.
  std::vector<std::string> image_fields;
};

// A request's `model` checked against the names the node serves ("" is taken as the first).
// Throws ApiError 404 (vLLM's wording) for any other name.
void check_model(const std::string& model, const std::vector<std::string>& served);

// The most choices (n) a request may ask.
constexpr int32_t kMaxChoices = 16;

// The most entries a request's logit_bias may hold.
constexpr size_t kMaxLogitBias = 1024;

// A chat completion; a sampling field it leaves out takes limits.sampling's value.
// Throws ApiError (400 for malformed or out-of-range fields and JSON that does not parse,
// media.h's statuses for images).
ParsedRequest parse_chat_request(std::string_view body, const RequestLimits& limits);

// A completion: `prompt` a string or token ids (or a list holding one of those), no chat
// template. Throws ApiError 400 as above.
ParsedRequest parse_completion_request(std::string_view body, const RequestLimits& limits);

// A request body that must be a JSON object nesting at most max_depth levels. Throws ApiError 400.
nlohmann::ordered_json parse_json_object(std::string_view body, int max_depth);

}  // namespace pio::http
