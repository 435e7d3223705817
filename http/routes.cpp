#include "http/routes.h"

#include <algorithm>
#include <cctype>

#include <openssl/crypto.h>

#include "http/api_error.h"
#include "http/percent_decode.h"

namespace pio::http {
namespace {

struct Route {
  const char* path;
  const char* methods;
};
constexpr Route kRoutes[] = {{"/v1/chat/completions", "POST, OPTIONS"},
                             {"/v1/completions", "POST, OPTIONS"},
                             {"/v1/models", "GET, HEAD, OPTIONS"},
                             {"/health", "GET, HEAD, OPTIONS"},
                             {"/metrics", "GET, HEAD, OPTIONS"},
                             {"/tokenize", "POST, OPTIONS"},
                             {"/detokenize", "POST, OPTIONS"},
                             {"/", "GET, HEAD, OPTIONS"}};

// One served model's path: /v1/models/<id> (OpenAI's "retrieve model"; an id may hold '/').
constexpr std::string_view kModelPrefix = "/v1/models/";

// Authorization: Bearer <key>, the scheme in any case (RFC 7235 §2.1), the key compared in
// constant time.
bool bearer_matches(const HttpRequest& req, const std::string& key) {
  const std::string header = req.header("Authorization");
  constexpr std::string_view prefix = "bearer ";
  if (header.size() != prefix.size() + key.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != prefix[i]) return false;
  return CRYPTO_memcmp(header.data() + prefix.size(), key.data(), key.size()) == 0;
}

// Whether `methods` (an Allow list) holds `method`.
bool takes(const std::string& methods, const std::string& method) {
  size_t at = 0;
  while (at < methods.size()) {
    const size_t end = std::min(methods.find(", ", at), methods.size());
    if (methods.compare(at, end - at, method) == 0) return true;
    at = end + 2;
  }
  return false;
}

HttpResponse refusal(int status, const std::string& message, const HttpRequest& head, const CorsPolicy& cors) {
  HttpResponse r{status, "application/json", error_body(status, message), cors.answer_headers(head)};
  return r;
}

}  // namespace

std::string_view route_of(std::string_view path) {
  for (const Route& r : kRoutes)
    if (path == r.path) return r.path;
  if (path.size() > kModelPrefix.size() && path.starts_with(kModelPrefix)) return kModelRoute;
  return "";
}

std::optional<std::string> model_of(std::string_view path) {
  if (route_of(path) != kModelRoute) return std::nullopt;
  return percent_decoded(path.substr(kModelPrefix.size()));
}

std::string allowed_methods(std::string_view path) {
  const std::string_view route = route_of(path);
  if (route == kModelRoute) return "GET, HEAD, OPTIONS";
  for (const Route& r : kRoutes)
    if (route == r.path) return r.methods;
  return "";
}

bool names_json(std::string_view content_type) {
  const std::string_view type = content_type.substr(0, content_type.find(';'));
  const size_t first = type.find_first_not_of(" \t");
  if (first == std::string_view::npos) return false;
  const std::string_view trimmed = type.substr(first, type.find_last_not_of(" \t") + 1 - first);
  constexpr std::string_view kJson = "application/json";
  return trimmed.size() == kJson.size() && std::equal(trimmed.begin(), trimmed.end(), kJson.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

std::optional<HttpResponse> admit(const HttpRequest& head, const std::string& api_key, const CorsPolicy& cors) {
  const std::string methods = allowed_methods(head.path);
  if (head.method == "OPTIONS" && !methods.empty()) return cors.preflight(head, methods);
  const bool keyed = head.path.rfind("/v1/", 0) == 0 || head.path == "/tokenize" || head.path == "/detokenize";
  if (!api_key.empty() && keyed && !bearer_matches(head, api_key))
    return refusal(401, "a missing or wrong API key: send Authorization: Bearer <key>", head, cors);
  if (methods.empty()) return refusal(404, "no such endpoint: " + excerpt(head.path), head, cors);
  if (!takes(methods, head.method)) {
    HttpResponse r = refusal(405, head.path + " takes " + methods.substr(0, methods.find(", OPTIONS")) + ", not " +
                                      excerpt(head.method), head, cors);
    r.headers.emplace_back("Allow", methods);
    return r;
  }
  if (head.method == "POST" && !names_json(head.header("Content-Type"))) {
    const std::string sent = head.header("Content-Type");
    return refusal(415, "the body must be JSON sent as Content-Type: application/json (" +
                            (sent.empty() ? std::string("none was given") : "not " + excerpt(sent)) + ")", head, cors);
  }
  return std::nullopt;
}

}  // namespace pio::http
