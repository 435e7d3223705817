#include "serving/token_budget.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace pio {

TokenBudget::TokenBudget(double target_ms, int64_t min_tokens, int64_t max_tokens, int64_t initial)
    : target_ms_(target_ms), min_(min_tokens), max_(max_tokens), budget_(initial) {
  if (!(target_ms > 0) || !std::isfinite(target_ms) || min_tokens <= 0 || initial < min_tokens || max_tokens < initial)
    throw std::invalid_argument("token budget: need target_ms > 0 and 0 < min <= initial <= max");
}

int64_t TokenBudget::observe(int64_t tokens, double ms) {
  if (tokens <= 0 || !(ms >= 0) || !std::isfinite(ms)) return budget_;
  steps_.emplace_back(static_cast<double>(tokens), ms);
  if (steps_.size() > kWindow) steps_.pop_front();
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [x, y] : steps_) {
    n += 1;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double var = n * sxx - sx * sx;
  if (var <= 0) return budget_;  // every step had the same size: no slope to fit yet
  const double per_token = (n * sxy - sx * sy) / var;
  const double fixed = (sy - per_token * sx) / n;
  if (!(per_token > 0)) return budget_;
  fixed_ms_ = std::max(fixed, 0.0);
  per_token_ms_ = per_token;
  budget_ = budget_within(target_ms_);
  return budget_;
}

int64_t TokenBudget::budget_within(double ms) const {
  const double fit = per_token_ms_ > 0 ? (ms - fixed_ms_) / per_token_ms_ : static_cast<double>(budget_) * ms / target_ms_;
  return std::clamp<int64_t>(static_cast<int64_t>(std::clamp(fit, 0.0, 1e12)), min_, max_);
}

}  // namespace pio
