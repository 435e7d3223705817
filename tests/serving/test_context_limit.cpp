// The context-length check: image placeholders expanded, a named max_tokens over the context
// refused with the numbers, a default one clipped, a prompt that fills the context refused.
#include <boost/test/unit_test.hpp>

#include <vector>

#include "serving/context_limit.h"

using namespace pio;

BOOST_AUTO_TEST_SUITE(context_limit)

BOOST_AUTO_TEST_CASE(each_image_placeholder_becomes_its_tokens) {
  BOOST_TEST(expanded_prompt_tokens(10, {}) == 10);
  const std::vector<int64_t> images{64, 1, 16384};
  BOOST_TEST(expanded_prompt_tokens(10, images) == 10 + 63 + 0 + 16383);
}

BOOST_AUTO_TEST_CASE(a_named_max_tokens_over_the_context_is_refused_with_the_numbers) {
  const ContextFit over = fit_context(109, 4096, false, 512);
  BOOST_TEST(over.max_tokens == 0);
  BOOST_TEST(over.error.find("maximum context length is 512 tokens") != std::string::npos);
  BOOST_TEST(over.error.find("you requested 4205 tokens (109 in the messages, 4096 in the completion)") != std::string::npos);
  const ContextFit exact = fit_context(112, 400, false, 512);
  BOOST_TEST(exact.error.empty());
  BOOST_TEST(exact.max_tokens == 400);
}

BOOST_AUTO_TEST_CASE(a_default_max_tokens_is_clipped_to_what_fits) {
  const ContextFit clipped = fit_context(109, 1024, true, 512);
  BOOST_TEST(clipped.error.empty());
  BOOST_TEST(clipped.max_tokens == 403);
  BOOST_TEST(fit_context(10, 16, true, 512).max_tokens == 16);
}

BOOST_AUTO_TEST_CASE(a_prompt_that_fills_the_context_is_refused_either_way) {
  for (const bool clip : {false, true}) {
    const ContextFit full = fit_context(2009, 16, clip, 512);
    BOOST_TEST(full.max_tokens == 0);
    BOOST_TEST(full.error.find("2009 tokens") != std::string::npos);
    BOOST_TEST(!fit_context(512, 1, clip, 512).error.empty());
  }
}

BOOST_AUTO_TEST_CASE(a_completion_is_told_of_its_prompt_not_messages) {
  const ContextFit full = fit_context(600, 16, true, 512, "prompt");
  BOOST_TEST(full.error.find("your prompt resulted in 600 tokens") != std::string::npos);
  BOOST_TEST(full.error.find("messages") == std::string::npos);
  const ContextFit over = fit_context(109, 4096, false, 512, "prompt");
  BOOST_TEST(over.error.find("(109 in the prompt, 4096 in the completion)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_config_without_a_context_limits_nothing) {
  const ContextFit fit = fit_context(100000, 4096, false, 0);
  BOOST_TEST(fit.error.empty());
  BOOST_TEST(fit.max_tokens == 4096);
}

BOOST_AUTO_TEST_SUITE_END()
