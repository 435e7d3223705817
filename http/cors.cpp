#include "http/cors.h"

#include <algorithm>

#include <strings.h>

namespace pio::http {

namespace {
constexpr const char* kMaxAgeSeconds = "600";
}

CorsPolicy::CorsPolicy(std::vector<std::string> origins) : origins_(std::move(origins)) {
  any_ = std::find(origins_.begin(), origins_.end(), "*") != origins_.end();
}

bool CorsPolicy::allows(const HttpRequest& request) const {
  const std::string origin = request.header("Origin");
  if (origin.empty() || !enabled()) return false;
  return any_ || std::any_of(origins_.begin(), origins_.end(), [&](const std::string& o) {
           return strcasecmp(o.c_str(), origin.c_str()) == 0;
         });
}

Headers CorsPolicy::answer_headers(const HttpRequest& request) const {
  if (!enabled()) return {};
  Headers out{{"Vary", "Origin"}};
  if (allows(request)) out.emplace_back("Access-Control-Allow-Origin", any_ ? "*" : request.header("Origin"));
  return out;
}

HttpResponse CorsPolicy::preflight(const HttpRequest& request, const std::string& methods) const {
  HttpResponse r{204, "text/plain", "", answer_headers(request)};
  r.headers.emplace_back("Allow", methods);
  if (enabled()) r.headers.front().second = "Origin, Access-Control-Request-Headers";  // the Vary
  if (allows(request)) {
    const std::string asked = request.header("Access-Control-Request-Headers");
    r.headers.emplace_back("Access-Control-Allow-Methods", methods);
    r.headers.emplace_back("Access-Control-Allow-Headers", asked.empty() ? "Authorization, Content-Type" : asked);
    r.headers.emplace_back("Access-Control-Max-Age", kMaxAgeSeconds);
  }
  return r;
}

}  // namespace pio::http
