#include "model/tokenizer/byte_level.h"

#include "model/tokenizer/utf8.h"

namespace pio {

ByteLevelMap::ByteLevelMap() {
  byte_of_cp_.fill(-1);
  // Printable Latin-1 bytes stand for themselves; the others (controls, space, soft hyphen...)
  // are moved, in byte order, to code points from U+0100 up so every token is visible text.
  int shifted = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    const int cp = printable ? b : 256 + shifted++;
    chars_[b].clear();
    utf8::append(chars_[b], static_cast<char32_t>(cp));
    byte_of_cp_[cp] = b;
  }
}

std::optional<std::string> ByteLevelMap::bytes_of(std::string_view token) const {
  std::string out;
  out.reserve(token.size());
  std::size_t i = 0;
  while (i < token.size()) {
    const char32_t cp = utf8::next(token, i);
    if (cp >= byte_of_cp_.size() || byte_of_cp_[cp] < 0) return std::nullopt;
    out += static_cast<char>(byte_of_cp_[cp]);
  }
  return out;
}

}  // namespace pio
