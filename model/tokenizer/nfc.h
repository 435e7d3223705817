// Unicode NFC normalisation (utf8proc), the normaliser of Qwen's tokenizer.json.
#pragma once

#include <string>
#include <string_view>

namespace pio {

// NFC form of valid UTF-8 text. Text that NFC cannot change is returned as is, without
// calling utf8proc, which keeps ASCII and CJK text on a fast path.
std::string nfc(std::string_view text);

}  // namespace pio
