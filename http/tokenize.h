// POST /tokenize and POST /detokenize, as vLLM's OpenAI-compatible server answers them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/openai_request.h"
#include "model/tokenizer/tokenizer.h"

namespace pio::http {

// {"prompt": text} (encoded with added tokens such as <|im_start|> parsed, as a completion's
// prompt is) or {"messages": [...], "tools": [...]} (the chat template with the generation
// prompt, one placeholder id per image, as a chat request is), with "add_special_tokens" (a
// boolean: Qwen's tokenizer adds no special tokens of its own, so it changes nothing) and
// "model" (one of `served`, as a chat request's: else ApiError 404). Answers {"tokens": [...],
// "count": n, "max_model_len": max_model_len}. Throws ApiError 400 naming the field for
// anything else (unknown fields included), media.h's statuses for images.
std::string tokenize_body(std::string_view body, const Tokenizer& tokenizer, const RequestLimits& limits,
                          int64_t max_model_len, const std::vector<std::string>& served);

// {"tokens": [ids]} -> {"prompt": text} (special tokens shown), with an optional "model" as
// tokenize_body's. Throws ApiError 400 for a missing list or an id outside the vocabulary.
std::string detokenize_body(std::string_view body, const Tokenizer& tokenizer, int max_depth,
                            const std::vector<std::string>& served);

}  // namespace pio::http
