// A chat request as it enters a node, and everything about it that crosses actors and
// processes: sampling parameters, stop conditions, priority and deadline. Every struct has a
// CAF inspect() overload, so it serialises unchanged across a process boundary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/optional_field.h"
#include "model/sampler.h"

namespace pio {

// One part of a turn: text, or an encoded image file's bytes (PNG, JPEG, WebP, BMP, GIF).
struct ContentPart {
  std::string text;
  std::vector<uint8_t> image;  // empty for a text part
  bool is_image = false;
};

// A function call an assistant turn made (OpenAI's tool_calls[].function).
struct ToolCall {
  std::string name;
  std::string arguments;  // JSON text
};

// Structured output: the answer is `prefix`, then a JSON text the schema (JSON text, see
// serving/json_schema.h) allows, then `suffix`; decoding is constrained to it. An empty schema:
// unconstrained. json_object is the schema {"type":"object"}; a required tool call wraps the
// tools' schema in Qwen's <tool_call> tags.
struct StructuredOutput {
  std::string schema;
  std::string prefix;
  std::string suffix;
};

struct ChatTurn {
  std::string role;  // system, user, assistant, tool
  std::vector<ContentPart> parts;
  std::vector<ToolCall> tool_calls = {};  // assistant turns
};

struct ChatRequest {
  std::string client_id;             // who sent it (fair scheduling, cancellation)
  int32_t priority = 0;              // lower is more urgent (the priority policy)
  int64_t deadline_ms = 0;           // the request ends with an error this long after arrival; 0: none
  std::vector<ChatTurn> messages;
  SamplingOptions sampling;
  std::vector<std::string> stop;     // stop strings: never emitted, generation ends before them
  std::vector<int32_t> stop_ids;     // besides the model's own end-of-turn ids
  int32_t max_tokens = 256;
  bool clip_max_tokens = false;      // max_tokens is a default: lowered to what fits the context
  int64_t max_pixels = 0;            // per image; 0: the node's limit
  bool stream = true;                // text deltas as they come, else one final event
  bool show_special_tokens = false;  // special tokens' text in the answer (HF skip_special_tokens=False)
  std::vector<std::string> tools = {};  // tool definitions as JSON text (the chat template's `tools | tojson`)
  // A raw completion (OpenAI /v1/completions) when `messages` is empty: the prompt's ids, or
  // its text (added tokens in it parsed, no chat template).
  std::string prompt = {};
  std::vector<int32_t> prompt_ids = {};
  StructuredOutput structured = {};  // response_format, or a required tool call
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, LogitBias& x) {
  return f(caf::meta::type_name("pio::LogitBias"), x.id, x.bias);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SamplingOptions& x) {
  return f(caf::meta::type_name("pio::SamplingOptions"), x.temperature, x.top_k, x.top_p,
           optional_field(x.seed), x.min_p,
           x.repetition_penalty, x.presence_penalty, x.frequency_penalty, x.logit_bias, x.logprobs, x.top_logprobs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, StructuredOutput& x) {
  return f(caf::meta::type_name("pio::StructuredOutput"), x.schema, x.prefix, x.suffix);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ContentPart& x) {
  return f(caf::meta::type_name("pio::ContentPart"), x.text, x.image, x.is_image);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ToolCall& x) {
  return f(caf::meta::type_name("pio::ToolCall"), x.name, x.arguments);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ChatTurn& x) {
  return f(caf::meta::type_name("pio::ChatTurn"), x.role, x.parts, x.tool_calls);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ChatRequest& x) {
  return f(caf::meta::type_name("pio::ChatRequest"), x.client_id, x.priority, x.deadline_ms, x.messages, x.sampling,
           x.stop, x.stop_ids, x.max_tokens, x.clip_max_tokens, x.max_pixels, x.stream, x.show_special_tokens, x.tools, x.prompt,
           x.prompt_ids, x.structured);
}

}  // namespace pio
