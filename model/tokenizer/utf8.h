// UTF-8 helpers shared by the tokenizers and the streaming detokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pio::utf8 {

inline constexpr char32_t kReplacement = 0xFFFD;

// Appends the UTF-8 form of a code point.
void append(std::string& out, char32_t cp);

// True when `s` is well-formed UTF-8 (no surrogates, no overlongs, <= U+10FFFF).
bool is_valid(std::string_view s);

// Copies `s` into `out`, replacing each ill-formed sequence by U+FFFD with the "maximal
// subpart" rule of WHATWG TextDecoder (the reference tokenizer sees text through it).
// With `final` false an incomplete but so-far-valid sequence at the end is left unconsumed;
// returns how many bytes of `s` were consumed.
std::size_t sanitize(std::string_view s, std::string& out, bool final = true);

// The valid UTF-8 form of `s` (itself when already valid).
std::string sanitized(std::string_view s);

// Decodes the code point starting at s[i] of valid UTF-8 and advances i.
char32_t next(std::string_view s, std::size_t& i);

}  // namespace pio::utf8
