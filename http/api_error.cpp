#include "http/api_error.h"

#include <algorithm>
#include <string_view>

#include <nlohmann/json.hpp>

namespace pio::http {

ApiError::ApiError(int status, std::string message, std::string param)
    : std::runtime_error(std::move(message)), status_(status), param_(std::move(param)) {}

const char* error_type(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    case 504: return "timeout_error";
    default: return status >= 400 && status < 500 ? "invalid_request_error" : "server_error";
  }
}

std::string error_body(int status, const std::string& message, const std::string& param) {
  nlohmann::json error = {{"message", message},
                          {"type", error_type(status)},
                          {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param)},
                          {"code", status}};
  // Replace, not throw, on bytes that are not UTF-8 (a message may quote the request).
  return nlohmann::json{{"error", error}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string excerpt(std::string_view text) {
  constexpr size_t kMax = 64;
  if (text.size() <= kMax) return std::string(text);
  return std::string(text.substr(0, kMax)) + "...";
}

std::string plain_words(std::string message) {
  // CAF renders its codes as system_error(cannot_connect_to_node), exit_reason(kill), error(x).
  static constexpr std::string_view kWrappers[] = {"system_error(", "exit_reason(", "error("};
  const auto code_char = [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; };
  std::string out;
  size_t i = 0;
  while (i < message.size()) {
    size_t next = i + 1;
    std::string words(1, message[i]);
    for (std::string_view wrapper : kWrappers) {
      if (message.compare(i, wrapper.size(), wrapper) != 0) continue;
      size_t end = i + wrapper.size();
      while (end < message.size() && code_char(message[end])) ++end;
      if (end > i + wrapper.size() && end < message.size() && message[end] == ')') {
        words = message.substr(i + wrapper.size(), end - i - wrapper.size());
        std::replace(words.begin(), words.end(), '_', ' ');
        next = end + 1;
      }
      break;
    }
    out += words;
    i = next;
  }
  return out;
}

int status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_request: return 400;
    case ErrorCode::too_large: return 413;
    case ErrorCode::bad_image: return 422;
    case ErrorCode::overloaded: return 503;
    case ErrorCode::deadline_exceeded: return 504;
    default: return 500;
  }
}

}  // namespace pio::http
