// RFC 3986 §2.1 percent-decoding, for the parts of a request's URL that name something: a
// file:// URL's path (media.cpp) and the model id in /v1/models/<id> (clients encode its '/').
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pio::http {

// s with each "%XX" (two hex digits, either case) replaced by that byte; nullopt for a '%' not
// followed by two hex digits, or an encoded NUL.
std::optional<std::string> percent_decoded(std::string_view s);

}  // namespace pio::http
