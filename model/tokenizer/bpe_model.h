// Byte-level BPE: a pre-tokenized word (raw bytes) becomes token ids by applying the
// vocabulary's merges, lowest rank first.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "model/tokenizer/byte_level.h"
#include "model/tokenizer/word_cache.h"

namespace pio {

class BpeModel {
 public:
  // `vocab`: byte-level spelling -> id; `merges`: pairs of spellings in rank order. Throws
  // ModelError for an id outside [0, 2^24), ids reaching twice the entry count (the id table
  // is dense), a spelling that is not byte-level, a missing byte, or a merge of unknown tokens.
  BpeModel(const std::unordered_map<std::string, std::int32_t>& vocab,
           const std::vector<std::pair<std::string, std::string>>& merges);

  // Appends the ids of one word. Thread-safe.
  void encode_word(std::string_view word, std::vector<std::int32_t>& out) const;

  // Raw bytes of a vocabulary id (empty for an id outside the vocabulary).
  const std::string& token_bytes(std::int32_t id) const;
  std::int32_t id_limit() const { return static_cast<std::int32_t>(bytes_of_id_.size()); }

 private:
  struct Merge {
    std::int32_t rank;
    std::int32_t result;
  };
  static std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
  }
  void merge_word(std::string_view word, std::vector<std::int32_t>& out) const;

  std::array<std::int32_t, 256> byte_ids_{};
  std::unordered_map<std::uint64_t, Merge> merges_;
  std::vector<std::string> bytes_of_id_;
  WordCache cache_;
};

}  // namespace pio
