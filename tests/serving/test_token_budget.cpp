// Adaptive batching: the budget converges to the token count a linear step-time model predicts.
#include <boost/test/unit_test.hpp>

#include <stdexcept>

#include "serving/token_budget.h"

using pio::TokenBudget;

BOOST_AUTO_TEST_SUITE(token_budget)

BOOST_AUTO_TEST_CASE(fits_fixed_plus_per_token_cost) {
  // Steps cost 20 ms + 0.5 ms per token: a 100 ms target allows 160 tokens.
  TokenBudget b(100.0, 8, 4096, 64);
  for (int64_t tokens : {8, 64, 200, 16, 120, 300}) b.observe(tokens, 20.0 + 0.5 * static_cast<double>(tokens));
  BOOST_TEST(b.budget() == 160);
}

BOOST_AUTO_TEST_CASE(budget_within_a_shorter_time_uses_the_same_fit) {
  // 20 ms + 0.5 ms per token: what is left of a 100 ms target after a 40 ms vision piece is
  // 80 tokens; before any fit, the budget is scaled by the share of the target left.
  TokenBudget b(100.0, 8, 4096, 64);
  BOOST_TEST(b.budget_within(50.0) == 32);
  for (int64_t tokens : {8, 64, 200}) b.observe(tokens, 20.0 + 0.5 * static_cast<double>(tokens));
  BOOST_TEST(b.budget_within(60.0) == 80);
  BOOST_TEST(b.budget_within(100.0) == b.budget());
  BOOST_TEST(b.budget_within(10.0) == 8);  // less than the fixed cost: the minimum
}

BOOST_AUTO_TEST_CASE(clamps_and_ignores_uninformative_steps) {
  TokenBudget b(50.0, 8, 256, 32);
  BOOST_TEST(b.observe(32, 10.0) == 32);   // one size only: nothing fitted yet
  BOOST_TEST(b.observe(32, 12.0) == 32);
  BOOST_TEST(b.observe(0, 5.0) == 32);     // an empty step says nothing
  b.observe(64, 14.0);                     // slope 1/16 ms/token, fixed ~9 ms: far above 256
  BOOST_TEST(b.budget() == 256);
  TokenBudget slow(50.0, 8, 256, 32);
  slow.observe(10, 100.0);
  slow.observe(20, 200.0);  // 10 ms per token: the fit asks for 5, clamped to the minimum 8
  BOOST_TEST(slow.budget() == 8);
}

BOOST_AUTO_TEST_CASE(refuses_bad_settings) {
  BOOST_CHECK_THROW(TokenBudget(0.0, 1, 10, 5), std::invalid_argument);
  BOOST_CHECK_THROW(TokenBudget(10.0, 6, 10, 5), std::invalid_argument);
  BOOST_CHECK_THROW(TokenBudget(10.0, 1, 4, 5), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
