// Error text for clients (http/api_error.h): quotes of their input bounded, CAF's error codes
// in plain words, and the OpenAI error shape with its type per status.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "http/api_error.h"

using namespace pio::http;

BOOST_AUTO_TEST_SUITE(api_error)

BOOST_AUTO_TEST_CASE(quotes_are_bounded) {
  BOOST_TEST(excerpt("model-x") == "model-x");
  BOOST_TEST(excerpt(std::string(64, 'a')) == std::string(64, 'a'));
  BOOST_TEST(excerpt(std::string(100000, 'a')) == std::string(64, 'a') + "...");
}

BOOST_AUTO_TEST_CASE(caf_codes_become_words) {
  BOOST_TEST(plain_words("the node did not take the request: system_error(request_timeout)") ==
             "the node did not take the request: request timeout");
  BOOST_TEST(plain_words("lost node: it shut down (exit_reason(remote_link_unreachable))") ==
             "lost node: it shut down (remote link unreachable)");
  BOOST_TEST(plain_words("plug-in a (system_error(request_receiver_down)), b (error(x))") ==
             "plug-in a (request receiver down), b (x)");
  BOOST_TEST(plain_words("the prompt is 9 tokens (over 8)") == "the prompt is 9 tokens (over 8)");
}

// Every client error (4xx) is an invalid request but the key (401) and the rate (429); a full node
// (503) is overloaded, a passed deadline (504) a timeout, the rest the server's.
BOOST_AUTO_TEST_CASE(each_status_has_its_type) {
  const std::pair<int, const char*> cases[] = {
      {400, "invalid_request_error"}, {404, "invalid_request_error"}, {405, "invalid_request_error"},
      {413, "invalid_request_error"}, {415, "invalid_request_error"}, {422, "invalid_request_error"},
      {431, "invalid_request_error"}, {401, "authentication_error"},  {429, "rate_limit_error"},
      {503, "overloaded_error"},      {504, "timeout_error"},         {500, "server_error"}};
  for (const auto& [status, type] : cases) {
    const auto body = nlohmann::json::parse(error_body(status, "m", "p"));
    BOOST_TEST(body["error"]["type"] == type, status);
    BOOST_TEST(body["error"]["code"] == status);
  }
}

BOOST_AUTO_TEST_SUITE_END()
