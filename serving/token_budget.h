// Adaptive batching: moves the per-step token budget so that a step takes about a target time.
// Step time is modelled as fixed + per_token * tokens (decode steps are dominated by the fixed
// cost of streaming the weights, prefill chunks by the per-token cost), fitted by least squares
// over the most recent steps; the budget is the token count the fit predicts for the target.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

namespace pio {

class TokenBudget {
 public:
  // Throws std::invalid_argument unless 0 < min_tokens <= initial <= max_tokens and target_ms > 0.
  TokenBudget(double target_ms, int64_t min_tokens, int64_t max_tokens, int64_t initial);

  // Records a step that computed `tokens` tokens in `ms` milliseconds; returns the new budget.
  int64_t observe(int64_t tokens, double ms);
  // The tokens for a step of the whole target.
  int64_t budget() const { return budget_; }
  // The tokens for a step that must fit in `ms` (the target less what the step already spent,
  // e.g. on a vision piece): what the fit predicts, in [min, max]; before any fit, the budget
  // scaled by ms / target.
  int64_t budget_within(double ms) const;

 private:
  static constexpr size_t kWindow = 32;
  double target_ms_;
  int64_t min_, max_, budget_;
  double fixed_ms_ = 0, per_token_ms_ = 0;  // the last fit; per_token_ms_ = 0 before one
  std::deque<std::pair<double, double>> steps_;  // (tokens, ms)
};

}  // namespace pio
