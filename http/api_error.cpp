#include "http/api_error.h"

#include <algorithm>
#include <regex>

#include <nlohmann/json.hpp>

namespace pio::http {

ApiError::ApiError(int status, std::string message, std::string param)
    : std::runtime_error(std::move(message)), status_(status), param_(std::move(param)) {}

const char* error_type(int status) {
  switch (status) {
    case 400: case 404: case 405: case 413: case 415: case 422: return "invalid_request_error";
    case 401: return "authentication_error";
    case 429: return "rate_limit_error";
    case 503: case 504: return "overloaded_error";
    default: return "server_error";
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
  static const std::regex code(R"((system_error|exit_reason|error)\(([a-z_]+)\))");
  std::string out;
  auto at = message.cbegin();
  for (std::sregex_iterator m(message.begin(), message.end(), code), end; m != end; ++m) {
    out.append(at, (*m)[0].first);
    std::string words = (*m)[2].str();
    std::replace(words.begin(), words.end(), '_', ' ');
    out += words;
    at = (*m)[0].second;
  }
  out.append(at, message.cend());
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
