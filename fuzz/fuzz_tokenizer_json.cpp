// tokenizer.json, loaded as `--model DIR` loads it, then used: a fixed text with special tokens,
// CJK and ill-formed UTF-8 is encoded, and every id it gives must decode.
#include <string_view>

#include "fuzz/harness.h"
#include "fuzz/scratch_file.h"
#include "model/tokenizer/tokenizer.h"

void pio::fuzz::fuzz_one(std::span<const uint8_t> data) {
  static constexpr std::string_view kText =
      "<|im_start|>user\nHello, world! 你好 123 \xff\xfe don't  <|endoftext|> e\xcc\x81<|im_end|>";
  const auto tok = load_tokenizer(write_scratch_file("tokenizer.json", data));
  for (const bool special : {true, false}) {
    const auto ids = tok->encode(kText, special);
    for (const int32_t id : ids) require(id >= 0 && id < tok->vocab_size(), "encode gives ids inside the vocabulary");
    tok->decode(ids);
  }
}
