// Byte-level BPE tokenizer of the Hugging Face tokenizer.json kind (Qwen2/Qwen3):
// added tokens split out first, then NFC, the Split regex, byte-level BPE.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "model/tokenizer/added_tokens.h"
#include "model/tokenizer/bpe_model.h"
#include "model/tokenizer/pretokenizer.h"
#include "model/tokenizer/tokenizer.h"

namespace pio {

class BpeTokenizer final : public Tokenizer {
 public:
  // tokenizer_config.json is optional (it names the end-of-sequence token).
  static std::unique_ptr<BpeTokenizer> load(const std::filesystem::path& tokenizer_json,
                                            const std::filesystem::path& tokenizer_config);

  BpeTokenizer(std::unordered_map<std::string, std::int32_t> vocab,
               const std::vector<std::pair<std::string, std::string>>& merges,
               AddedTokens added, std::string_view split_regex, bool nfc,
               std::optional<std::string> eos_token);

  std::vector<std::int32_t> encode(std::string_view text, bool parse_special) const override;
  std::string_view token_bytes(std::int32_t id, bool at_start) const override;
  std::optional<std::int32_t> token_id(std::string_view token) const override;
  std::int32_t vocab_size() const override;
  std::optional<std::int32_t> eos_id() const override { return eos_id_; }
  bool is_special(std::int32_t id) const override;

 private:
  void encode_ordinary(std::string_view text, std::vector<std::int32_t>& ids) const;

  std::unordered_map<std::string, std::int32_t> vocab_;
  BpeModel model_;
  AddedTokens added_;
  PreTokenizer pre_tokenizer_;
  bool nfc_;
  std::optional<std::int32_t> eos_id_;
};

}  // namespace pio
