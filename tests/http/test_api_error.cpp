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

BOOST_AUTO_TEST_CASE(new_statuses_are_invalid_requests) {
  for (int status : {405, 415}) {
    const auto body = nlohmann::json::parse(error_body(status, "m", "p"));
    BOOST_TEST(body["error"]["type"] == "invalid_request_error");
    BOOST_TEST(body["error"]["code"] == status);
  }
}

BOOST_AUTO_TEST_SUITE_END()
