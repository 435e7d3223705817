// Streaming detokenizer: turns ids into text as they are generated, emitting only whole
// UTF-8 characters, so a streamed answer never shows a broken character. The concatenation
// of everything push() and finish() return equals Tokenizer::decode of all the ids with the
// same SpecialTokens choice. An answer streams with SpecialTokens::skip, as Hugging Face's
// documented usage (`skip_special_tokens=True`), vLLM and llama.cpp's server give it.
#pragma once

#include <cstdint>
#include <string>

#include "model/tokenizer/tokenizer.h"

namespace pio {

class StreamDetokenizer {
 public:
  StreamDetokenizer(const Tokenizer& tokenizer, SpecialTokens special)
      : tokenizer_(tokenizer), special_(special) {}

  // Adds one id; returns the text it completes (often empty mid-character, always empty for
  // a skipped special token). Throws ModelError for an id outside the vocabulary.
  std::string push(std::int32_t id);

  // Ends the stream: bytes of a character that never completed come out as U+FFFD.
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  SpecialTokens special_;
  std::string pending_;  // bytes of a character still incomplete
  bool started_ = false;  // some bytes were produced (SentencePiece's first-piece rule)
};

}  // namespace pio
