#include "serving/output_stream.h"

#include <utility>

namespace pio {

OutputStream::OutputStream(uint64_t request_id, const Tokenizer& tokenizer, bool show_special_tokens,
                           std::vector<std::string> stop_strings, bool stream)
    : id_(request_id),
      detok_(tokenizer, show_special_tokens ? SpecialTokens::show : SpecialTokens::skip),
      stops_(std::move(stop_strings)),
      stream_(stream) {}

StreamEvent OutputStream::event(std::string text) {
  StreamEvent e;
  e.request_id = id_;
  e.text = std::move(text);
  e.token_ids = std::exchange(held_ids_, {});
  e.logprobs = std::exchange(held_logprobs_, {});
  return e;
}

StreamEvent OutputStream::push(int32_t id, const TokenLogprobs* logprobs) {
  ++generated_;
  held_ids_.push_back(id);
  if (logprobs) held_logprobs_.push_back(*logprobs);
  std::string text = stops_.push(detok_.push(id));
  if (!stream_) {
    held_ += text;
    StreamEvent nothing;
    nothing.request_id = id_;
    return nothing;
  }
  return event(std::move(text));
}

void OutputStream::resume(const std::vector<int32_t>& streamed) {
  for (int32_t id : streamed) stops_.push(detok_.push(id));  // their text was sent already
  generated_ += static_cast<int64_t>(streamed.size());
}

StreamEvent OutputStream::finish(const std::string& reason) {
  std::string tail = stops_.stopped() ? std::string() : stops_.push(detok_.finish()) + stops_.finish();
  StreamEvent e = event(stream_ ? std::move(tail) : std::exchange(held_, {}) + tail);
  e.final = true;
  e.finish_reason = stops_.stopped() ? "stop" : reason;
  e.usage.completion_tokens = generated_;
  return e;
}

}  // namespace pio
