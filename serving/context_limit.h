// The context-length check every request passes before its tokens are queued for an engine
// (vLLM's "maximum context length" refusal): the prompt, with each image placeholder expanded to
// the image's merged tokens, plus max_tokens must fit the model's max_position_embeddings.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace pio {

// The prompt's length once each of its images' single placeholder becomes that image's tokens.
// prompt_ids: the chat template's ids (one placeholder per image); image_tokens: per image.
int64_t expanded_prompt_tokens(int64_t prompt_ids, std::span<const int64_t> image_tokens);

struct ContextFit {
  int32_t max_tokens = 0;  // what the request may generate
  std::string error;       // non-empty: the request cannot run (a message for the client)
};

// max_tokens for a prompt of `prompt_tokens` in a context of `context` tokens. When the request
// gave no max_tokens (clip), the default is lowered to what fits; otherwise prompt + max_tokens
// over the context is refused, as is a prompt that leaves no room for one token. A context of 0
// (a config without max_position_embeddings) limits nothing. input names what the client sent in
// the messages (vLLM's words): "messages" for a chat, "prompt" for a completion.
ContextFit fit_context(int64_t prompt_tokens, int32_t max_tokens, bool clip, int64_t context,
                       const std::string& input = "messages");

}  // namespace pio
