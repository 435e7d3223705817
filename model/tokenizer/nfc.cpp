#include "model/tokenizer/nfc.h"

#include <cstdlib>
#include <memory>

#include <utf8proc.h>

#include "model/errors.h"
#include "model/tokenizer/utf8.h"

namespace pio {

namespace {

// A code point that NFC leaves alone wherever it stands: it does not decompose, has
// combining class 0 and takes part in no composition. Conservative: a false "no" only
// costs a call to utf8proc.
bool nfc_inert(char32_t cp) {
  if (cp < 0x300) return true;  // nothing below the combining diacritics composes as a second
  if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xAC00 && cp <= 0xD7A3)) return false;  // Hangul
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  return p->combining_class == 0 && p->decomp_seqindex == UINT16_MAX &&
         p->comb_index == UINT16_MAX;
}

bool needs_nfc(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    if (!nfc_inert(utf8::next(text, i))) return true;
  }
  return false;
}

}  // namespace

std::string nfc(std::string_view text) {
  if (!needs_nfc(text)) return std::string(text);
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) throw ModelError(std::string("tokenizer: NFC failed: ") + utf8proc_errmsg(n));
  const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
  return std::string(reinterpret_cast<const char*>(mapped), static_cast<std::size_t>(n));
}

}  // namespace pio
