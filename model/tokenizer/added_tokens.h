// The added tokens of a vocabulary (`<|im_start|>`, `<think>`...) and the first encoding
// step: cutting them out of the text before any normalisation or BPE.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pio {

struct AddedToken {
  std::int32_t id;
  std::string content;
  bool special;
};

// A piece of text: either an added token (id >= 0) or ordinary text (id == -1).
struct TextPiece {
  std::string_view text;
  std::int32_t id = -1;
};

class AddedTokens {
 public:
  // Throws ModelError for empty content or an id outside [0, 2^24); a content listed twice
  // keeps its first id.
  void add(AddedToken token);

  std::optional<std::int32_t> find(std::string_view content) const;
  const AddedToken* by_id(std::int32_t id) const;
  const std::vector<AddedToken>& all() const { return tokens_; }

  // Splits `text` at every occurrence of an added token, leftmost first and longest at a
  // position (as the reference does). Empty text pieces are dropped.
  std::vector<TextPiece> split(std::string_view text) const;

  // Appends the ids of `text`: with parse_special, the added tokens found in it become their
  // ids and the text between goes through encode_ordinary(text, ids); without, all of it does.
  template <class EncodeOrdinary>
  void encode(std::string_view text, bool parse_special, std::vector<std::int32_t>& ids,
              EncodeOrdinary&& encode_ordinary) const {
    if (!parse_special) {
      encode_ordinary(text, ids);
      return;
    }
    for (const TextPiece& piece : split(text)) {
      if (piece.id >= 0) ids.push_back(piece.id);
      else encode_ordinary(piece.text, ids);
    }
  }

 private:
  std::vector<AddedToken> tokens_;
  std::unordered_map<std::string, std::size_t> by_content_;
  std::unordered_map<std::int32_t, std::size_t> by_id_;
  // For each first byte, the tokens starting with it, longest first.
  std::array<std::vector<std::size_t>, 256> by_first_byte_;
};

}  // namespace pio
