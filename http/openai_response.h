// OpenAI response bodies for a node's answer: a whole chat.completion / text_completion, or the
// server-sent events of a stream (chat.completion.chunk / text_completion chunks, a usage chunk
// when stream_options.include_usage, then `data: [DONE]`). The usage has
// prompt_tokens_details.cached_tokens; a `timings` object (milliseconds per stage, as
// llama.cpp's server adds) rides along, and a top-level `seed` (the one the answer sampled with,
// drawn by the node when the request had none; on the final chunk of a stream). Reference: the OpenAI API reference, "The chat
// completion object" and "The chat completion chunk object".
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "http/logprobs_json.h"
#include "http/tool_calls.h"
#include "messages/events.h"

namespace pio::http {

struct ResponseInfo {
  std::string id;        // chatcmpl-... / cmpl-...
  int64_t created = 0;   // Unix seconds
  std::string model;
  bool chat = true;      // chat completion, else text completion
  bool tools = false;    // parse <tool_call> blocks out of the answer
  TokenText logprobs = nullptr;  // set when the request asked for logprobs: each id's text
  std::string echo = {};         // completions: the prompt's text, which the answer's text starts with
};

// One choice of a whole answer: its text, final event and (with info.logprobs) every event's
// logprobs in order.
struct ChoiceOutput {
  std::string text;
  StreamEvent final;
  std::vector<TokenLogprobs> logprobs;
};

// The whole answer's body; finish_reason is the node's (stop, length), tool_calls when calls
// were parsed out of the text; `logprobs` (every event's, in order) with info.logprobs.
std::string completion_body(const ResponseInfo& info, const std::string& text, const StreamEvent& final,
                            std::span<const TokenLogprobs> logprobs = {});
// The same with n choices (`index` 0 to n-1; at least one): usage counts the prompt once and
// every choice's completion tokens; timings and seed are the first choice's.
std::string completion_body(const ResponseInfo& info, std::span<const ChoiceOutput> choices);

// One `data: ...\n\n` event carrying an error JSON, then `data: [DONE]`: how a stream that
// already answered 200 reports a failure.
std::string sse_error(int status, const std::string& message);

// The events of one streamed choice, in order: start(), delta() per text delta, finish(); with
// n choices, one formatter per choice (its `index`), finish_choice() for each and end() once.
class StreamFormatter {
 public:
  StreamFormatter(ResponseInfo info, bool include_usage, size_t index = 0);
  // The first chunk (chat: the assistant role with empty content; completions: the echoed
  // prompt, if any).
  std::string start();
  // A text delta and its tokens' logprobs; "" when nothing can go out yet (held tool-call text,
  // or ids whose text is not whole yet): the logprobs then go with the next chunk that does.
  std::string delta(const std::string& text, std::span<const TokenLogprobs> logprobs = {});
  // The final event's text, any tool calls, the chunk with the finish reason, the usage chunk
  // when asked for, and [DONE].
  std::string finish(const StreamEvent& final);
  // finish() in two parts: the choice's end (up to its finish-reason chunk), and the stream's
  // (the usage chunk when asked for, and [DONE]).
  std::string finish_choice(const StreamEvent& final);
  std::string end(const Usage& usage) const;

 private:
  std::string chunk(const nlohmann::json& choice, const nlohmann::json& extra = nullptr) const;
  std::string text_chunk(const std::string& text);
  // The logprobs not sent yet, as the choice's logprobs value (null without logprobs).
  nlohmann::json take_logprobs();

  ResponseInfo info_;
  bool include_usage_;
  size_t index_;
  ToolCallStream tool_stream_;
  std::vector<TokenLogprobs> pending_;  // logprobs of ids whose text has not gone out
  size_t offset_ = 0;                   // completions: bytes of text sent (text_offset)
};

}  // namespace pio::http
