#include "apps/pio/chat_prompt.h"

#include <fstream>
#include <sstream>

#include "model/errors.h"
#include "model/tokenizer/chat_template.h"

namespace pio::cli {

namespace {

constexpr std::streamoff kMaxMessagesFileBytes = 16 << 20;

}  // namespace

std::vector<int32_t> single_turn_chat_ids(const Tokenizer& tokenizer, const std::optional<std::string>& system,
                                          const std::string& prompt, size_t images) {
  std::vector<ChatMessage> messages;
  if (system) messages.push_back({"system", {ChatPart::of_text(*system)}});
  ChatMessage user{"user", {}};
  for (size_t i = 0; i < images; ++i) user.content.push_back(ChatPart::image());
  user.content.push_back(ChatPart::of_text(prompt));
  messages.push_back(std::move(user));
  return encode_chat(tokenizer, render_chat(messages));
}

ParsedChat read_chat_messages_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw ModelError(path + ": cannot open the messages file");
  if (in.tellg() > kMaxMessagesFileBytes)
    throw ModelError(path + ": the messages file is larger than " + std::to_string(kMaxMessagesFileBytes >> 20) +
                     " MiB");
  in.seekg(0);
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return parse_chat_messages_text(text.str());
  } catch (const ModelError& e) {
    throw ModelError(path + ": " + e.what());
  }
}

}  // namespace pio::cli
