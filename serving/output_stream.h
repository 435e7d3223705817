// One request's answer as the client sees it: generated ids turned into text deltas (whole
// UTF-8 characters, special tokens skipped unless asked for), stop strings cut out, and, for a
// request that does not stream, everything held until the final event.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/events.h"
#include "model/tokenizer/stream_detokenizer.h"
#include "serving/stop_strings.h"

namespace pio {

class OutputStream {
 public:
  OutputStream(uint64_t request_id, const Tokenizer& tokenizer, bool show_special_tokens,
               std::vector<std::string> stop_strings, bool stream);

  // Adds a generated id, and its log-probabilities when the request asked for them. Returns the
  // event to send now (empty text and ids when nothing is ready, e.g. while a stop string may be
  // starting or when not streaming); its logprobs, when given, align with its token_ids.
  // stop_matched() tells whether the id completed a stop string.
  StreamEvent push(int32_t id, const TokenLogprobs* logprobs = nullptr);
  bool stop_matched() const { return stops_.stopped(); }
  // A moved request: takes the ids another engine already streamed (the client has their text),
  // so that what follows continues that text exactly; they count as generated.
  void resume(const std::vector<int32_t>& streamed);

  // The final event: the text still held (unless a stop string cut it), the finish reason.
  StreamEvent finish(const std::string& reason);

  int64_t generated() const { return generated_; }

 private:
  StreamEvent event(std::string text);

  uint64_t id_;
  StreamDetokenizer detok_;
  StopStringMatcher stops_;
  bool stream_;
  std::string held_;                // text of a non-streamed answer
  std::vector<int32_t> held_ids_;   // ids not yet sent
  std::vector<TokenLogprobs> held_logprobs_;  // theirs, when asked for
  int64_t generated_ = 0;
};

}  // namespace pio
