// What the gateway decides from a request's head (http/routes.h) and its CORS headers
// (http/cors.h): preflights for allowed and other origins, 405 with Allow, 415 for POST bodies
// not sent as JSON, 401 before anything but a preflight, and CORS headers on every answer.
#include <boost/test/unit_test.hpp>

#include "http/routes.h"

using namespace pio::http;

namespace {

HttpRequest head(const std::string& method, const std::string& path, Headers headers = {}) {
  return HttpRequest{method, path, 11, std::move(headers), ""};
}

// The value of header `name` in `r`, "" when absent (and a failure when it is there twice).
std::string header(const HttpResponse& r, const std::string& name) {
  std::string out;
  int seen = 0;
  for (const auto& [n, v] : r.headers)
    if (n == name) out = v, ++seen;
  BOOST_TEST(seen <= 1, name + " twice");
  return out;
}

const std::string kApp = "https://app.example.com";

}  // namespace

BOOST_AUTO_TEST_SUITE(routes)

BOOST_AUTO_TEST_CASE(a_preflight_from_an_allowed_origin_is_answered) {
  const CorsPolicy cors({kApp, "http://localhost:5173"});
  const auto r = admit(head("OPTIONS", "/v1/chat/completions",
                            {{"Origin", kApp}, {"Access-Control-Request-Method", "POST"},
                             {"Access-Control-Request-Headers", "authorization, content-type, x-stainless-os"}}),
                       "sekrit", cors);  // no key needed: browsers send none with a preflight
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 204);
  BOOST_TEST(header(*r, "Access-Control-Allow-Origin") == kApp);
  BOOST_TEST(header(*r, "Access-Control-Allow-Methods") == "POST, OPTIONS");
  BOOST_TEST(header(*r, "Access-Control-Allow-Headers") == "authorization, content-type, x-stainless-os");
  BOOST_TEST(header(*r, "Access-Control-Max-Age") == "600");
  BOOST_TEST(header(*r, "Vary").find("Origin") != std::string::npos);
  BOOST_TEST(header(*r, "Allow") == "POST, OPTIONS");
  // Without requested headers: the two the API reads.
  const auto plain = admit(head("OPTIONS", "/v1/models", {{"Origin", "HTTP://LOCALHOST:5173"}}), "", cors);
  BOOST_TEST(header(*plain, "Access-Control-Allow-Headers") == "Authorization, Content-Type");
  BOOST_TEST(header(*plain, "Access-Control-Allow-Methods") == "GET, HEAD, OPTIONS");
}

BOOST_AUTO_TEST_CASE(other_origins_get_no_cors_headers) {
  const CorsPolicy cors({kApp});
  for (const CorsPolicy& policy : {cors, CorsPolicy()}) {
    for (const std::string& origin : {std::string("https://evil.example.com"), std::string("https://app.example.com.evil.com"),
                                      std::string()}) {
      BOOST_TEST_CONTEXT(origin) {
        Headers headers;
        if (!origin.empty()) headers.emplace_back("Origin", origin);
        const auto r = admit(head("OPTIONS", "/v1/chat/completions", headers), "", policy);
        BOOST_REQUIRE(r.has_value());
        BOOST_TEST(r->status == 204);
        for (const auto& [name, value] : r->headers) BOOST_TEST(name.rfind("Access-Control-", 0) != 0u, name);
        BOOST_TEST(policy.answer_headers(head("POST", "/v1/chat/completions", headers)).size() == (policy.enabled() ? 1u : 0u));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(answers_carry_the_origin_any_with_a_star) {
  const HttpRequest from_app = head("POST", "/v1/chat/completions", {{"Origin", kApp}});
  const Headers exact = CorsPolicy({kApp}).answer_headers(from_app);
  BOOST_TEST((exact == Headers{{"Vary", "Origin"}, {"Access-Control-Allow-Origin", kApp}}));
  const Headers any = CorsPolicy({"*"}).answer_headers(from_app);
  BOOST_TEST((any == Headers{{"Vary", "Origin"}, {"Access-Control-Allow-Origin", "*"}}));
  // Refusals from the head carry them too, so the page can read why.
  const auto refused = admit(head("POST", "/v1/chat/completions", {{"Origin", kApp}}), "sekrit", CorsPolicy({kApp}));
  BOOST_REQUIRE(refused.has_value());
  BOOST_TEST(refused->status == 401);
  BOOST_TEST(header(*refused, "Access-Control-Allow-Origin") == kApp);
}

BOOST_AUTO_TEST_CASE(a_method_a_path_does_not_take_is_405_with_allow) {
  const CorsPolicy off;
  const auto get = admit(head("GET", "/v1/chat/completions"), "", off);
  BOOST_REQUIRE(get.has_value());
  BOOST_TEST(get->status == 405);
  BOOST_TEST(header(*get, "Allow") == "POST, OPTIONS");
  BOOST_TEST(get->body.find("\"code\":405") != std::string::npos);
  const auto del = admit(head("DELETE", "/health"), "", off);
  BOOST_TEST(del->status == 405);
  BOOST_TEST(header(*del, "Allow") == "GET, HEAD, OPTIONS");
  BOOST_TEST(!admit(head("HEAD", "/health"), "", off).has_value());
  BOOST_TEST(!admit(head("GET", "/"), "", off).has_value());
  BOOST_TEST(admit(head("GET", "/nothing"), "", off)->status == 404);
  BOOST_TEST(admit(head("OPTIONS", "/nothing"), "", off)->status == 404);
  // The key comes first on /v1/: a caller without it learns nothing of the routes.
  BOOST_TEST(admit(head("GET", "/v1/nothing"), "sekrit", off)->status == 401);
  BOOST_TEST(admit(head("GET", "/v1/chat/completions", {{"Authorization", "Bearer sekrit"}}), "sekrit", off)->status == 405);
}

// /v1/models/<id> (OpenAI's model retrieval; an id may hold '/') is one route, as /metrics
// labels it, whatever the id; /v1/models/ alone is not a model's path.
BOOST_AUTO_TEST_CASE(one_models_path_is_one_route_whatever_its_id) {
  BOOST_TEST(route_of("/v1/models/tiny") == "/v1/models/{model}");
  BOOST_TEST(route_of("/v1/models/Qwen/Qwen3-VL-2B-Instruct") == "/v1/models/{model}");
  BOOST_TEST(*model_of("/v1/models/Qwen/Qwen3-VL-2B-Instruct") == "Qwen/Qwen3-VL-2B-Instruct");
  BOOST_TEST(*model_of("/v1/models/Qwen%2FQwen3-VL-2B-Instruct") == "Qwen/Qwen3-VL-2B-Instruct");  // as the SDK sends it
  BOOST_TEST(*model_of("/v1/models/my%20model") == "my model");
  BOOST_TEST(!model_of("/v1/models/bad%2").has_value());
  BOOST_TEST(!model_of("/v1/models/nul%00").has_value());
  BOOST_TEST(route_of("/v1/models") == "/v1/models");
  BOOST_TEST(!model_of("/v1/models").has_value());
  BOOST_TEST(route_of("/v1/models/").empty());
  BOOST_TEST(route_of("/v1/nothing").empty());
  const CorsPolicy off;
  BOOST_TEST(!admit(head("GET", "/v1/models/tiny"), "", off).has_value());
  BOOST_TEST(header(*admit(head("POST", "/v1/models/tiny"), "", off), "Allow") == "GET, HEAD, OPTIONS");
}

// The Bearer scheme is matched in any case (RFC 7235 §2.1); the key exactly.
BOOST_AUTO_TEST_CASE(the_api_key_scheme_is_matched_in_any_case_and_the_key_exactly) {
  const CorsPolicy off;
  for (const std::string scheme : {"Bearer", "bearer", "BEARER"})
    BOOST_TEST(!admit(head("GET", "/v1/models", {{"Authorization", scheme + " sekrit"}}), "sekrit", off).has_value(),
               scheme);
  BOOST_TEST(admit(head("GET", "/v1/models", {{"Authorization", "Bearer Sekrit"}}), "sekrit", off)->status == 401);
  BOOST_TEST(admit(head("GET", "/v1/models", {{"Authorization", "Basic sekrit"}}), "sekrit", off)->status == 401);
  BOOST_TEST(admit(head("GET", "/v1/models", {{"Authorization", "Bearer sekrit2"}}), "sekrit", off)->status == 401);
}

BOOST_AUTO_TEST_CASE(post_bodies_must_be_json) {
  const CorsPolicy off;
  for (const std::string& type : {std::string("text/plain"), std::string("application/x-www-form-urlencoded"),
                                  std::string("multipart/form-data; boundary=x"), std::string(""),
                                  std::string("application/jsonp"), std::string("application/json-seq")}) {
    BOOST_TEST_CONTEXT(type) {
      Headers headers;
      if (!type.empty()) headers.emplace_back("Content-Type", type);
      const auto r = admit(head("POST", "/v1/completions", headers), "", off);
      BOOST_REQUIRE(r.has_value());
      BOOST_TEST(r->status == 415);
      BOOST_TEST(r->body.find("application/json") != std::string::npos);
    }
  }
  for (const std::string type : {"application/json", "application/json; charset=utf-8", "Application/JSON", " application/json "}) {
    BOOST_TEST_CONTEXT(type) {
      BOOST_TEST(names_json(type));
      BOOST_TEST(!admit(head("POST", "/v1/chat/completions", {{"Content-Type", type}}), "", off).has_value());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
