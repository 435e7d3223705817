// The tokenizer interface the rest of pio uses, whatever the checkpoint ships:
// byte-level BPE (tokenizer.json) or SentencePiece (tokenizer.model).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pio {

// Whether decoding keeps the text of special tokens (`<|im_start|>`, `<|image_pad|>`...):
// Hugging Face's `decode(..., skip_special_tokens=...)`, whose default is to show them.
enum class SpecialTokens { show, skip };

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Text (any bytes: ill-formed UTF-8 is read as U+FFFD, like the reference) to ids.
  // parse_special: added tokens written in the text (`<|im_end|>`) become their ids; when
  // false they are ordinary text, which is how user text must be encoded.
  virtual std::vector<std::int32_t> encode(std::string_view text,
                                           bool parse_special = true) const = 0;

  // The raw bytes one id stands for (possibly part of a UTF-8 character). `at_start`: the
  // piece is the first of the output (SentencePiece drops its dummy-prefix space there).
  // Throws ModelError for an id outside the vocabulary.
  virtual std::string_view token_bytes(std::int32_t id, bool at_start) const = 0;

  // The id of a token spelled as the vocabulary spells it (`<|im_start|>`), if any.
  virtual std::optional<std::int32_t> token_id(std::string_view token) const = 0;

  // One past the largest id.
  virtual std::int32_t vocab_size() const = 0;

  // End-of-sequence id named by the tokenizer files, if any.
  virtual std::optional<std::int32_t> eos_id() const = 0;

  // Whether `id` is a special token, the ones Hugging Face's skip_special_tokens drops:
  // tokenizer.json's added tokens marked "special": true (so `<|im_start|>`, `<|image_pad|>`,
  // but not `<think>`), or SentencePiece's control and unknown pieces. False for any id
  // outside the vocabulary.
  virtual bool is_special(std::int32_t id) const = 0;

  // Ids to text. Ill-formed UTF-8 from partial pieces becomes U+FFFD. With
  // SpecialTokens::skip the special ids contribute nothing. Throws ModelError for an id
  // outside the vocabulary.
  std::string decode(std::span<const std::int32_t> ids,
                     SpecialTokens special = SpecialTokens::show) const;

  // Encodes many texts on `threads` threads (0: all cores); results in input order.
  std::vector<std::vector<std::int32_t>> encode_batch(std::span<const std::string> texts,
                                                      unsigned threads = 0,
                                                      bool parse_special = true) const;
};

// Loads the tokenizer of a model directory: tokenizer.json (+ tokenizer_config.json) gives
// byte-level BPE, else tokenizer.model gives SentencePiece. Throws ModelError otherwise.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir);

}  // namespace pio
