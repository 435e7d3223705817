#include "model/tokenizer/chat_template.h"

#include "model/errors.h"

namespace pio {

namespace {

// Collects segments, merging neighbouring ordinary text.
class SegmentWriter {
 public:
  void text(std::string_view s) {
    if (s.empty()) return;
    if (out_.empty() || out_.back().special) out_.push_back({false, {}});
    out_.back().text.append(s);
  }
  void marker(std::string_view token) { out_.push_back({true, std::string(token)}); }
  std::vector<ChatSegment> take() { return std::move(out_); }

 private:
  std::vector<ChatSegment> out_;
};

struct VisionCounts {
  int images = 0;
  int videos = 0;
};

// Only the text parts (how the template renders system and assistant content).
void write_text_parts(const ChatMessage& m, SegmentWriter& w) {
  for (const ChatPart& p : m.content) {
    if (p.kind == ChatPart::Kind::text) w.text(p.text);
  }
}

// Text, images and videos (how it renders user and tool content).
void write_parts(const ChatMessage& m, const ChatOptions& options, VisionCounts& counts,
                 SegmentWriter& w) {
  for (const ChatPart& p : m.content) {
    if (p.kind == ChatPart::Kind::text) {
      w.text(p.text);
      continue;
    }
    const bool image = p.kind == ChatPart::Kind::image;
    const int k = image ? ++counts.images : ++counts.videos;
    if (options.add_vision_id) w.text((image ? "Picture " : "Video ") + std::to_string(k) + ": ");
    w.marker("<|vision_start|>");
    w.marker(image ? "<|image_pad|>" : "<|video_pad|>");
    w.marker("<|vision_end|>");
  }
}

void open_turn(std::string_view role, SegmentWriter& w) {
  w.marker("<|im_start|>");
  w.text(role);
  w.text("\n");
}

void close_turn(SegmentWriter& w) {
  w.marker("<|im_end|>");
  w.text("\n");
}

// The system turn of a request with tools: the system text, then the tool list and the
// instructions, word for word the template's (its <tool_call> markers are added tokens).
void write_tools_system(std::span<const ChatMessage> messages, const std::vector<std::string>& tools,
                        SegmentWriter& w) {
  open_turn("system", w);
  if (!messages.empty() && messages[0].role == "system") {
    write_text_parts(messages[0], w);
    w.text("\n\n");
  }
  w.text("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
         "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
  for (const std::string& tool : tools) {
    w.text("\n");
    w.text(tool);
  }
  w.text("\n</tools>\n\nFor each function call, return a json object with function name and arguments within ");
  w.marker("<tool_call>");
  w.marker("</tool_call>");
  w.text(" XML tags:\n");
  w.marker("<tool_call>");
  w.text("\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n");
  w.marker("</tool_call>");
  close_turn(w);
}

// An assistant turn's calls, each on a line of its own after any content.
void write_tool_calls(const ChatMessage& m, SegmentWriter& w) {
  for (std::size_t k = 0; k < m.tool_calls.size(); ++k) {
    if (k > 0 || !m.content.empty()) w.text("\n");
    w.marker("<tool_call>");
    w.text("\n{\"name\": \"" + m.tool_calls[k].name + "\", \"arguments\": " + m.tool_calls[k].arguments + "}\n");
    w.marker("</tool_call>");
  }
}

}  // namespace

std::vector<ChatSegment> render_chat(std::span<const ChatMessage> messages,
                                     const ChatOptions& options) {
  SegmentWriter w;
  if (!options.tools.empty()) {
    write_tools_system(messages, options.tools, w);
  } else if (!messages.empty() && messages[0].role == "system") {
    open_turn("system", w);
    write_text_parts(messages[0], w);
    close_turn(w);
  }
  VisionCounts counts;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user") {
      open_turn("user", w);
      write_parts(m, options, counts, w);
      close_turn(w);
    } else if (m.role == "assistant") {
      open_turn("assistant", w);
      write_text_parts(m, w);
      write_tool_calls(m, w);
      close_turn(w);
    } else if (m.role == "tool") {  // consecutive tool results share one user turn
      if (i == 0 || messages[i - 1].role != "tool") {
        w.marker("<|im_start|>");
        w.text("user");
      }
      w.text("\n");
      w.marker("<tool_response>");
      w.text("\n");
      write_parts(m, options, counts, w);
      w.text("\n");
      w.marker("</tool_response>");
      if (i + 1 == messages.size() || messages[i + 1].role != "tool") close_turn(w);
    }
    // A system message after the first, or any other role, renders nothing (as in Jinja).
  }
  if (options.add_generation_prompt) open_turn("assistant", w);
  return w.take();
}

std::string chat_text(std::span<const ChatSegment> segments) {
  std::string out;
  for (const ChatSegment& s : segments) out += s.text;
  return out;
}

std::vector<std::int32_t> encode_chat(const Tokenizer& tokenizer,
                                      std::span<const ChatSegment> segments) {
  std::vector<std::int32_t> ids;
  for (const ChatSegment& s : segments) {
    if (!s.special) {
      const std::vector<std::int32_t> text = tokenizer.encode(s.text, /*parse_special=*/false);
      ids.insert(ids.end(), text.begin(), text.end());
      continue;
    }
    const auto id = tokenizer.token_id(s.text);
    if (!id) throw ModelError("chat template: the vocabulary has no token " + s.text);
    ids.push_back(*id);
  }
  return ids;
}

}  // namespace pio
