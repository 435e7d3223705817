#include "model/tokenizer/nfc.h"

#include <cstdlib>
#include <memory>

#include <utf8proc.h>

#include "model/errors.h"
#include "model/tokenizer/utf8.h"

namespace pio {

namespace {

// A code point that can trigger no change by NFC: it has combining class 0, no canonical
// decomposition and takes part in no composition. Conservative: a false "no" only costs a
// call to utf8proc. Below U+0300 nothing changes unless a combining mark follows.
bool nfc_inert(char32_t cp) {
  if (cp < 0x300) return true;
  if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xAC00 && cp <= 0xD7A3)) return false;  // Hangul
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  const bool canonical_decomposition = p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0;
  return p->combining_class == 0 && !canonical_decomposition && p->comb_index == UINT16_MAX;
}

std::string utf8proc_nfc(std::string_view text) {
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) throw ModelError(std::string("tokenizer: NFC failed: ") + utf8proc_errmsg(n));
  const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
  return std::string(reinterpret_cast<const char*>(mapped), static_cast<std::size_t>(n));
}

}  // namespace

// NFC never acts across the position before an ASCII character (ASCII has combining class 0
// and is never the second half of a composition), so only the non-ASCII run around a
// character that may change, with the ASCII character leading it, goes through utf8proc.
std::string nfc(std::string_view text) {
  std::string out;
  std::size_t copied = 0;  // text[0, copied) is in `out` already
  std::size_t chunk = 0;   // where the current run starts: the last ASCII character seen
  std::size_t i = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      chunk = i++;
      continue;
    }
    if (nfc_inert(utf8::next(text, i))) continue;
    std::size_t end = i;
    while (end < text.size() && static_cast<unsigned char>(text[end]) >= 0x80) ++end;
    out.append(text.substr(copied, chunk - copied));
    out += utf8proc_nfc(text.substr(chunk, end - chunk));
    copied = chunk = i = end;
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

}  // namespace pio
