#include "apps/pio/chat_prompt.h"

#include "model/tokenizer/chat_template.h"

namespace pio::cli {

std::vector<int32_t> single_turn_chat_ids(const Tokenizer& tokenizer, const std::string& system,
                                          const std::string& prompt, size_t images) {
  std::vector<ChatMessage> messages;
  if (!system.empty()) messages.push_back({"system", {ChatPart::of_text(system)}});
  ChatMessage user{"user", {}};
  for (size_t i = 0; i < images; ++i) user.content.push_back(ChatPart::image());
  user.content.push_back(ChatPart::of_text(prompt));
  messages.push_back(std::move(user));
  return encode_chat(tokenizer, render_chat(messages));
}

}  // namespace pio::cli
