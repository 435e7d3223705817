// Streaming detokenizer: turns ids into text as they are generated, emitting only whole
// UTF-8 characters, so a streamed answer never shows a broken character. The concatenation
// of everything push() and finish() return equals Tokenizer::decode of all the ids.
#pragma once

#include <cstdint>
#include <string>

#include "model/tokenizer/tokenizer.h"

namespace pio {

class StreamDetokenizer {
 public:
  explicit StreamDetokenizer(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

  // Adds one id; returns the text it completes (often empty mid-character).
  std::string push(std::int32_t id);

  // Ends the stream: bytes of a character that never completed come out as U+FFFD.
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;  // bytes of a character still incomplete
  bool started_ = false;  // some bytes were produced (SentencePiece's first-piece rule)
};

}  // namespace pio
