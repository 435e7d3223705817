// A chat `messages` JSON array, as `pio chat --messages FILE` reads it, then rendered by the chat
// template as the prompt would be.
#include <algorithm>
#include <string_view>

#include "fuzz/harness.h"
#include "model/tokenizer/chat_messages.h"

void pio::fuzz::fuzz_one(std::span<const uint8_t> data) {
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  const ParsedChat chat = parse_chat_messages_text(text);
  size_t images = 0;
  for (const auto& m : chat.messages)
    images += static_cast<size_t>(std::count_if(m.content.begin(), m.content.end(),
                                                [](const ChatPart& p) { return p.kind == ChatPart::Kind::image; }));
  require(images == chat.image_paths.size(), "one image path per image part");
  require(!chat.messages.empty(), "an accepted conversation has a message");
  const std::string rendered = chat_text(render_chat(chat.messages));
  require(rendered.ends_with("<|im_start|>assistant\n"), "the rendering ends with the generation prompt");
}
