// SentencePiece backend (libsentencepiece) for checkpoints that ship tokenizer.model.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "model/tokenizer/added_tokens.h"
#include "model/tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace pio {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::filesystem::path& model_file);
  ~SentencePieceTokenizer() override;

  std::vector<std::int32_t> encode(std::string_view text, bool parse_special) const override;
  std::string_view token_bytes(std::int32_t id, bool at_start) const override;
  std::optional<std::int32_t> token_id(std::string_view token) const override;
  std::int32_t vocab_size() const override;
  std::optional<std::int32_t> eos_id() const override;
  bool is_special(std::int32_t id) const override;

 private:
  void encode_ordinary(std::string_view text, std::vector<std::int32_t>& ids) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::vector<std::string> bytes_of_id_;
  AddedTokens control_;  // <s>, </s>...: the pieces text can name when parse_special is on
  bool dummy_prefix_ = false;
};

}  // namespace pio
