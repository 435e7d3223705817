// An OpenAI-style `messages` array, as `pio chat --messages FILE` (and the node) take it, read
// into the chat template's messages and the images they name, in prompt order:
//   [{"role": "system", "content": "Be brief."},
//    {"role": "user", "content": [{"type": "image", "image": "cat.jpg"},
//                                 {"type": "text", "text": "What is this?"}]},
//    {"role": "assistant", "content": "A cat."},
//    {"role": "user", "content": "And its colour?"}]
// The shape follows the Hugging Face processor's chat messages (`apply_chat_template` with
// image parts) and OpenAI's chat API (content a string or a list of parts); everything the
// template would silently drop (a late system turn, an image in an assistant turn) is refused.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model/tokenizer/chat_template.h"

namespace pio {

// Bounds on one conversation, so no request can size anything unchecked.
struct ChatMessageLimits {
  std::size_t max_messages = 1024;
  std::size_t max_parts = 4096;            // content parts of all messages together
  std::size_t max_images = 64;
  std::size_t max_text_bytes = 8u << 20;   // all text (and image names) together
};

struct ParsedChat {
  std::vector<ChatMessage> messages;     // for render_chat
  std::vector<std::string> image_paths;  // the image parts' "image" strings, in prompt order
};

// Reads `messages`: a non-empty array of objects with "role" ("system" first only, "user",
// "assistant") and "content": a string, or an array of parts {"type": "text", "text": STR}
// and, in user turns only, {"type": "image", "image": STR}. Other keys are ignored. Throws
// ModelError naming the offending element (`messages[2].content[0]`) for any other shape,
// role or part type, and for a conversation over `limits`. Pure: reads no file.
ParsedChat parse_chat_messages(const nlohmann::json& messages, const ChatMessageLimits& limits = {});

}  // namespace pio
