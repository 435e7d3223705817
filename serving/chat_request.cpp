#include "serving/chat_request.h"

#include <algorithm>

#include "model/errors.h"

namespace pio {

std::vector<ChatMessage> chat_messages_of(const ChatRequest& request) {
  if (request.messages.empty()) throw ModelError("the request has no messages");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < request.messages.size(); ++i) {
    const ChatTurn& turn = request.messages[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (turn.role != "system" && turn.role != "user" && turn.role != "assistant" && turn.role != "tool")
      throw ModelError(where + ": unknown role '" + turn.role + "' (system, user, assistant, tool)");
    if (turn.role == "system" && i != 0) throw ModelError(where + ": a system message must come first");
    if (!turn.tool_calls.empty() && turn.role != "assistant")
      throw ModelError(where + ": only assistant messages may carry tool calls");
    ChatMessage m{turn.role, {}};
    for (const ToolCall& call : turn.tool_calls) m.tool_calls.push_back({call.name, call.arguments});
    for (const ContentPart& part : turn.parts) {
      if (!part.is_image) {
        m.content.push_back(ChatPart::of_text(part.text));
        continue;
      }
      if (turn.role != "user") throw ModelError(where + ": only user messages may carry images");
      m.content.push_back(ChatPart::image());
    }
    out.push_back(std::move(m));
  }
  return out;
}

void check_token_ids(const Tokenizer& tokenizer, const ChatRequest& request) {
  const int32_t last = tokenizer.vocab_size() - 1;
  const auto refuse = [last](const std::string& what, int32_t id, const char* field) {
    throw TokenIdError(what + " " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(last) + "]", field);
  };
  for (const LogitBias& b : request.sampling.logit_bias)
    if (b.id < 0 || b.id > last) refuse("logit_bias: token id", b.id, "logit_bias");
  for (const int32_t id : request.prompt_ids)
    if (id < 0 || id > last) refuse("prompt token id", id, "prompt");
}

PromptTokens tokenize_chat(const Tokenizer& tokenizer, const ChatRequest& request) {
  check_token_ids(tokenizer, request);
  if (request.messages.empty() && (!request.prompt.empty() || !request.prompt_ids.empty()))
    return {request.prompt_ids.empty() ? tokenizer.encode(request.prompt) : request.prompt_ids};
  const auto messages = chat_messages_of(request);
  PromptTokens out;
  ChatOptions options;
  options.tools = request.tools;
  out.ids = encode_chat(tokenizer, render_chat(messages, options));
  for (const auto& m : messages)
    out.images += static_cast<int32_t>(std::count_if(m.content.begin(), m.content.end(),
                                                     [](const ChatPart& p) { return p.kind == ChatPart::Kind::image; }));
  return out;
}

ImageLimits request_image_limits(const PreprocessorConfig& cfg, int64_t node_max_pixels, int64_t request_max_pixels) {
  ImageLimits limits = ImageLimits::from_config(cfg);
  if (node_max_pixels > 0) limits.max_pixels = std::min(limits.max_pixels, node_max_pixels);
  if (request_max_pixels > 0) limits.max_pixels = std::min(limits.max_pixels, request_max_pixels);
  limits.min_pixels = std::min(limits.min_pixels, limits.max_pixels);
  return limits;
}

}  // namespace pio
