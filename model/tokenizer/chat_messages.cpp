#include "model/tokenizer/chat_messages.h"

#include <nlohmann/json.hpp>

#include "model/errors.h"

namespace pio {

namespace {

using nlohmann::json;

[[noreturn]] void refuse(const std::string& where, const std::string& what) {
  throw ModelError(where + ": " + what);
}

// Counts what a conversation uses against its limits as parsing goes.
class Budget {
 public:
  explicit Budget(const ChatMessageLimits& limits) : limits_(limits) {}

  void part(const std::string& where) {
    if (++parts_ > limits_.max_parts)
      refuse(where, "more than " + std::to_string(limits_.max_parts) + " content parts in the messages");
  }
  void image(const std::string& where) {
    if (++images_ > limits_.max_images)
      refuse(where, "more than " + std::to_string(limits_.max_images) + " images in the messages");
  }
  void text(const std::string& where, std::size_t bytes) {
    text_bytes_ += bytes;
    if (text_bytes_ > limits_.max_text_bytes)
      refuse(where, "more than " + std::to_string(limits_.max_text_bytes) + " bytes of text in the messages");
  }

 private:
  const ChatMessageLimits& limits_;
  std::size_t parts_ = 0, images_ = 0, text_bytes_ = 0;
};

// The string at `object[key]`, which must be there.
const std::string& string_field(const json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end()) refuse(where, std::string("has no \"") + key + "\"");
  if (!it->is_string()) refuse(where + "." + key, std::string("expected a string, got ") + it->type_name());
  return it->get_ref<const std::string&>();
}

void parse_part(const json& part, const std::string& where, bool images_allowed, const std::string& role,
                Budget& budget, ParsedChat& out) {
  budget.part(where);
  if (!part.is_object()) refuse(where, std::string("expected a content part object, got ") + part.type_name());
  const std::string& type = string_field(part, "type", where);
  if (type == "text") {
    const std::string& text = string_field(part, "text", where);
    budget.text(where, text.size());
    out.messages.back().content.push_back(ChatPart::of_text(text));
  } else if (type == "image") {
    if (!images_allowed) refuse(where, "images are allowed in user messages only, not in " + role + " messages");
    const std::string& path = string_field(part, "image", where);
    if (path.empty()) refuse(where + ".image", "is empty");
    budget.image(where);
    budget.text(where, path.size());
    out.messages.back().content.push_back(ChatPart::image());
    out.image_paths.push_back(path);
  } else {
    refuse(where + ".type", "unknown content part type '" + type + "' (expected text or image)");
  }
}

void parse_message(const json& message, const std::string& where, bool first, Budget& budget, ParsedChat& out) {
  if (!message.is_object()) refuse(where, std::string("expected a message object, got ") + message.type_name());
  const std::string& role = string_field(message, "role", where);
  if (role != "system" && role != "user" && role != "assistant")
    refuse(where + ".role", "unknown role '" + role + "' (expected system, user or assistant)");
  if (role == "system" && !first) refuse(where, "a system message must be the first message");
  const auto content = message.find("content");
  if (content == message.end()) refuse(where, "has no \"content\"");
  out.messages.push_back({role, {}});
  if (content->is_string()) {
    const std::string& text = content->get_ref<const std::string&>();
    budget.part(where + ".content");
    budget.text(where + ".content", text.size());
    out.messages.back().content.push_back(ChatPart::of_text(text));
    return;
  }
  if (!content->is_array())
    refuse(where + ".content", std::string("expected a string or an array of parts, got ") + content->type_name());
  for (std::size_t i = 0; i < content->size(); ++i)
    parse_part((*content)[i], where + ".content[" + std::to_string(i) + "]", role == "user", role, budget, out);
}

}  // namespace

ParsedChat parse_chat_messages(const nlohmann::json& messages, const ChatMessageLimits& limits) {
  if (!messages.is_array())
    refuse("messages", std::string("expected an array of messages, got ") + messages.type_name());
  if (messages.empty()) refuse("messages", "the array is empty");
  if (messages.size() > limits.max_messages)
    refuse("messages", "more than " + std::to_string(limits.max_messages) + " messages (" +
                           std::to_string(messages.size()) + ")");
  Budget budget(limits);
  ParsedChat out;
  for (std::size_t i = 0; i < messages.size(); ++i)
    parse_message(messages[i], "messages[" + std::to_string(i) + "]", i == 0, budget, out);
  return out;
}

}  // namespace pio
