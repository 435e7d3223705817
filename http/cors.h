// Cross-origin requests from browsers (CORS, WHATWG Fetch §3.2) for the origins a node was
// started with (--cors-origin): preflights (OPTIONS) are answered, and answers to an allowed
// origin carry Access-Control-Allow-Origin. A disallowed origin gets no CORS header at all, so
// the browser keeps the answer from the page. Credentials travel as `Authorization: Bearer`,
// never cookies: Access-Control-Allow-Credentials is not sent.
#pragma once

#include <string>
#include <vector>

#include "http/server.h"

namespace pio::http {

class CorsPolicy {
 public:
  // origins: exact origins as browsers send them ("https://app.example.com", compared
  // case-insensitively) or "*" for any origin. None: CORS is off (no header is ever added).
  explicit CorsPolicy(std::vector<std::string> origins = {});

  bool enabled() const { return !origins_.empty(); }
  // Whether the request's Origin header names an allowed origin (false without one).
  bool allows(const HttpRequest& request) const;
  // The headers an answer to `request` carries: with CORS on, Vary: Origin, and for an allowed
  // origin Access-Control-Allow-Origin (the origin, or * when any is allowed).
  Headers answer_headers(const HttpRequest& request) const;
  // The answer to OPTIONS on a route that takes `methods` (as Allow lists them): 204 with
  // Allow; for an allowed origin also Access-Control-Allow-Methods, -Allow-Headers (the
  // requested ones, else Authorization and Content-Type) and -Max-Age (600 s).
  HttpResponse preflight(const HttpRequest& request, const std::string& methods) const;

 private:
  std::vector<std::string> origins_;
  bool any_ = false;
};

}  // namespace pio::http
