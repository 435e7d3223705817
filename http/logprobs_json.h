// OpenAI's logprobs objects for sampled tokens (TokenLogprobs, model/sampler.h): a chat
// choice's {"content": [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob",
// "bytes"}]}], "refusal": null}, and a completion choice's legacy {"tokens", "token_logprobs",
// "top_logprobs": [{token: logprob}], "text_offset"}. A log-probability of zero probability
// reads -9999.0 (as OpenAI and vLLM write it; JSON has no -Infinity).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "model/sampler.h"

namespace pio::http {

// An id's text: the bytes it stands for (possibly part of a UTF-8 character).
using TokenText = std::function<std::string(int32_t)>;

// The chat choice's logprobs object for these tokens.
nlohmann::json chat_logprobs(std::span<const TokenLogprobs> tokens, const TokenText& text);

// The completion choice's logprobs object: top_logprobs holds each token's top ids and the
// token itself (so up to N + 1 entries, as OpenAI documents). text_offset: each token's offset
// in bytes in the choice's text, counted from `offset` (the text before the first token), which
// is advanced past them.
nlohmann::json completion_logprobs(std::span<const TokenLogprobs> tokens, const TokenText& text, size_t& offset);

}  // namespace pio::http
