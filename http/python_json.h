// JSON text as Python's json.dumps(x, ensure_ascii=False) writes it, which is what the chat
// template's `tojson` filter gives (transformers' chat-template tojson): ", " and ": " as
// separators, keys in their given order, non-ASCII characters as they are.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace pio::http {

// Throws nlohmann::json::type_error for strings that are not UTF-8 (the parser refuses those first).
std::string python_json(const nlohmann::ordered_json& value);

}  // namespace pio::http
