// Qwen's tool-call output, `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`, turned
// into OpenAI tool_calls, the way vLLM's Hermes/Qwen parser does it: every block parsed (the
// last may lack its closing tag when generation stopped), the text outside the blocks kept as
// the content. Output whose blocks do not parse stays plain content.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "messages/chat.h"

namespace pio::http {

struct ParsedOutput {
  std::optional<std::string> content;  // the text outside the blocks, trimmed; none when empty
  std::vector<ToolCall> calls;         // arguments as JSON text (python_json of the object)
};

// Never throws: a block that is not a JSON object with a string "name" leaves the whole text
// as content.
ParsedOutput parse_tool_calls(std::string_view text);

// Streams an answer that may hold tool calls: the text before the first <tool_call> goes out
// as it comes; from there on (and any tail that could be the start of the tag) it is held for
// finish(), which parses it.
class ToolCallStream {
 public:
  // The part of `delta` that can be sent now as content.
  std::string feed(std::string_view delta);
  // What was held, parsed; `content` is only the held part's content.
  ParsedOutput finish();

 private:
  std::string held_;
  bool in_call_ = false;
};

}  // namespace pio::http
