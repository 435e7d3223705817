// What the pipeline's plain stages do with a ChatRequest: its turns as the chat template's
// messages, its prompt ids, and the pixel limits one of its images is preprocessed under.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/chat.h"
#include "messages/pipeline.h"
#include "model/errors.h"
#include "model/image/preprocess.h"
#include "model/tokenizer/chat_template.h"
#include "model/tokenizer/tokenizer.h"

namespace pio {

// The request's turns for render_chat. Throws ModelError for an empty conversation, an unknown
// role, a system turn that is not first, or an image outside a user turn.
std::vector<ChatMessage> chat_messages_of(const ChatRequest& request);

// A token id that a request carried outside the vocabulary; field() names the request field
// that held it: "logit_bias" or "prompt".
class TokenIdError : public ModelError {
 public:
  TokenIdError(const std::string& message, std::string field) : ModelError(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// Throws TokenIdError for a logit_bias key or a prompt id outside [0, vocab_size).
void check_token_ids(const Tokenizer& tokenizer, const ChatRequest& request);

// The chat template's ids with the generation prompt (and the request's tools), one placeholder
// per image. A request without messages is a raw completion: its prompt_ids, or its prompt text
// encoded with added tokens parsed. Throws ModelError for what chat_messages_of refuses, and
// what check_token_ids refuses.
PromptTokens tokenize_chat(const Tokenizer& tokenizer, const ChatRequest& request);

// The node's limits, tightened by the request's max_pixels (never loosened past node_max_pixels).
ImageLimits request_image_limits(const PreprocessorConfig& cfg, int64_t node_max_pixels, int64_t request_max_pixels);

}  // namespace pio
