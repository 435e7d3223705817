// The gateway's routes and what is decided from a request's head alone, before its body is
// read: CORS preflights, the API key, unknown paths (404), a method a path does not take (405
// with Allow), and a POST body that does not say it is JSON (415: a cross-site "simple" POST,
// text/plain, a form or no Content-Type, cannot start a generation).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/cors.h"
#include "http/server.h"

namespace pio::http {

// The route that serves a path, as /metrics labels it: the path itself, "/v1/models/{model}"
// for one model's (/v1/models/<id>), "" when no route has it.
std::string_view route_of(std::string_view path);
inline constexpr std::string_view kModelRoute = "/v1/models/{model}";
// The model id in a /v1/models/<id> path, percent-decoded (the openai SDKs send a '/' in an id
// as %2F); nullopt for another path or a bad escape.
std::optional<std::string> model_of(std::string_view path);
// The methods a path takes, as an Allow header lists them ("POST, OPTIONS", "GET, HEAD,
// OPTIONS"); "" when no route has the path.
std::string allowed_methods(std::string_view path);

// Whether a Content-Type value names JSON: application/json in any case, parameters allowed
// ("application/json; charset=utf-8").
bool names_json(std::string_view content_type);

// The answer to a request from its head, or nullopt to read its body and serve it. In order:
// OPTIONS on a route is its preflight (no key needed: browsers send none); a /v1/ path without
// `Authorization: Bearer <api_key>` (when api_key is set) 401; no route 404; a method the path
// does not take 405 with Allow; a POST whose Content-Type is not JSON 415. Every answer carries
// the CORS headers for the request's origin.
std::optional<HttpResponse> admit(const HttpRequest& head, const std::string& api_key, const CorsPolicy& cors);

}  // namespace pio::http
