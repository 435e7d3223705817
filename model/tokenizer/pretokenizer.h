// The pre-tokenizer: splits text into the pieces BPE works on, with the tokenizer.json
// `Split` regex (behaviour "Isolated": matches and the gaps between them are pieces).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pio {

class PreTokenizer {
 public:
  // `pattern` as tokenizer.json writes it (Python/Rust regex syntax).
  explicit PreTokenizer(std::string_view pattern);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Appends the pieces of valid UTF-8 `text` to `pieces`; together they cover the text.
  // Thread-safe.
  void split(std::string_view text, std::vector<std::string_view>& pieces) const;

 private:
  void* code_;  // pcre2_code_8*, kept opaque so PCRE2's macros stay out of this header
};

// The pattern rewritten so PCRE2 matches as the reference (JavaScript) does: `\s`/`\S` become
// ECMAScript's whitespace set, and `(?i:...)` groups fold ASCII letters only.
std::string to_ecmascript_semantics(std::string_view pattern);

}  // namespace pio
