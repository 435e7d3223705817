// GPT-2's reversible byte <-> printable-character map used by byte-level BPE vocabularies.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace pio {

class ByteLevelMap {
 public:
  ByteLevelMap();

  // The vocabulary's spelling (UTF-8) of one raw byte.
  const std::string& char_of(unsigned char byte) const { return chars_[byte]; }

  // The raw bytes a vocabulary entry stands for; nullopt when it contains a character that
  // no byte maps to (then the entry is not a byte-level token).
  std::optional<std::string> bytes_of(std::string_view token) const;

 private:
  std::array<std::string, 256> chars_;
  std::array<int, 512> byte_of_cp_;  // every mapped code point is below 512
};

}  // namespace pio
