#include "model/tokenizer/utf8.h"

namespace pio::utf8 {

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {

// Length of the well-formed sequence led by `lead`, 0 for a byte that cannot lead one.
int sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The allowed range of the second byte depends on the lead (Unicode Table 3-7): this is
// what rules out overlongs, surrogates and code points above U+10FFFF.
bool second_byte_ok(unsigned char lead, unsigned char b) {
  switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return b >= 0x80 && b <= 0xBF;
  }
}

// How many bytes from s[i] form a valid (possibly truncated) prefix of one sequence, and
// how long the full sequence would be. valid == need means one complete character.
struct Prefix {
  int valid;
  int need;
};

Prefix check_prefix(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const int need = sequence_length(lead);
  if (need <= 1) return {need, need};
  int valid = 1;
  while (valid < need && i + valid < s.size()) {
    const auto b = static_cast<unsigned char>(s[i + valid]);
    const bool ok = valid == 1 ? second_byte_ok(lead, b) : (b >= 0x80 && b <= 0xBF);
    if (!ok) break;
    ++valid;
  }
  return {valid, need};
}

}  // namespace

bool is_valid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Prefix p = check_prefix(s, i);
    if (p.need == 0 || p.valid != p.need) return false;
    i += p.need;
  }
  return true;
}

std::size_t sanitize(std::string_view s, std::string& out, bool final) {
  std::size_t i = 0;
  while (i < s.size()) {
    const Prefix p = check_prefix(s, i);
    if (p.need == 0) {  // a byte that can never start a character
      append(out, kReplacement);
      ++i;
    } else if (p.valid == p.need) {
      out.append(s.substr(i, p.need));
      i += p.need;
    } else if (i + p.valid == s.size() && !final) {
      break;  // may still be completed by bytes not seen yet
    } else {  // the maximal valid subpart becomes one replacement character
      append(out, kReplacement);
      i += p.valid;
    }
  }
  return i;
}

std::string sanitized(std::string_view s) {
  if (is_valid(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  sanitize(s, out, true);
  return out;
}

char32_t next(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  const int n = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  char32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}

}  // namespace pio::utf8
