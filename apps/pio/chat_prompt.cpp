#include "apps/pio/chat_prompt.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/errors.h"
#include "model/tokenizer/chat_template.h"

namespace pio::cli {

namespace {

constexpr std::streamoff kMaxMessagesFileBytes = 16 << 20;
constexpr int kMaxMessagesDepth = 32;  // the messages shape nests 4 deep; extra keys may add some

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
  nlohmann::json messages;
  try {
    messages = nlohmann::json::parse(text.str(), [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > kMaxMessagesDepth)
        throw ModelError(path + ": JSON nested deeper than " + std::to_string(kMaxMessagesDepth) + " levels");
      return true;
    });
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(path + ": not valid JSON: " + e.what());
  }
  try {
    return parse_chat_messages(messages);
  } catch (const ModelError& e) {
    throw ModelError(path + ": " + e.what());
  }
}

}  // namespace pio::cli
