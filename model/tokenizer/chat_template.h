// The Qwen3-VL Instruct chat template, rendered natively. It follows the checkpoint's Jinja
// template (system/user/assistant/tool turns, images and videos, add_vision_id, the
// generation prompt) and renders to segments, so that only the template's own markers
// become special tokens: text a user supplies is encoded with added-token parsing off.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/tokenizer/tokenizer.h"

namespace pio {

struct ChatPart {
  enum class Kind { text, image, video };
  Kind kind = Kind::text;
  std::string text;  // for Kind::text

  static ChatPart of_text(std::string text) { return {Kind::text, std::move(text)}; }
  static ChatPart image() { return {Kind::image, {}}; }
  static ChatPart video() { return {Kind::video, {}}; }
};

// A function call an assistant turn made (OpenAI's tool_calls[].function).
struct ChatToolCall {
  std::string name;
  std::string arguments;  // JSON text, written as it is (the template's `arguments is string`)
};

struct ChatMessage {
  std::string role;  // "system" (first message only), "user", "assistant", "tool"
  std::vector<ChatPart> content;  // empty: no content (Jinja's falsy content)
  std::vector<ChatToolCall> tool_calls = {};  // assistant turns only
};

struct ChatOptions {
  bool add_generation_prompt = true;
  bool add_vision_id = false;  // "Picture k: " / "Video k: " before each image / video
  // The template's `tools`: each tool as `tool | tojson` renders it. Non-empty: the system turn
  // lists them with the instructions for <tool_call> output.
  std::vector<std::string> tools = {};
};

// One run of rendered text: a template marker (exactly one added token) or ordinary text.
struct ChatSegment {
  bool special = false;
  std::string text;
};

// Renders a conversation. Adjacent ordinary text is one segment. An image becomes
// <|vision_start|><|image_pad|><|vision_end|>; the model layer expands the pad later.
std::vector<ChatSegment> render_chat(std::span<const ChatMessage> messages,
                                     const ChatOptions& options = {});

// The rendered string, identical to what the Jinja template renders.
std::string chat_text(std::span<const ChatSegment> segments);

// Ids of a rendered chat: markers map to their added-token ids, text is encoded with
// added-token parsing off. Throws ModelError if the vocabulary lacks a marker.
std::vector<std::int32_t> encode_chat(const Tokenizer& tokenizer,
                                      std::span<const ChatSegment> segments);

}  // namespace pio
