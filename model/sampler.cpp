#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace pio {

int32_t argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(const SamplingOptions& options) : opt_(options), rng_(options.seed) {}

int32_t Sampler::next(std::span<const float> logits) {
  if (opt_.temperature <= 0.0f) return argmax(logits);
  const auto n = static_cast<int32_t>(logits.size());
  const int32_t k = opt_.top_k > 0 ? std::min(opt_.top_k, n) : n;
  const auto by_logit = [&](int32_t a, int32_t b) { return logits[a] > logits[b]; };
  order_.resize(static_cast<size_t>(n));
  std::iota(order_.begin(), order_.end(), 0);
  // Only top-p needs the survivors in order; top-k alone only needs to know which they are.
  // Either way the first candidate is the largest logit (the softmax's shift).
  if (opt_.top_p < 1.0f) {
    std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), by_logit);
  } else {
    if (k < n) std::nth_element(order_.begin(), order_.begin() + k - 1, order_.end(), by_logit);
    std::iter_swap(order_.begin(), std::min_element(order_.begin(), order_.begin() + k, by_logit));
  }
  probs_.resize(static_cast<size_t>(k));
  const double top = logits[order_[0]];
  double sum = 0;
  for (int32_t i = 0; i < k; ++i) sum += probs_[i] = std::exp((logits[order_[i]] - top) / opt_.temperature);
  // Top-p: keep the smallest prefix whose mass reaches top_p (always at least one token).
  int32_t keep = k;
  if (opt_.top_p < 1.0f) {
    double mass = 0;
    for (int32_t i = 0; i < k; ++i) {
      mass += probs_[i] / sum;
      if (mass >= opt_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  std::discrete_distribution<int32_t> pick(probs_.begin(), probs_.begin() + keep);
  return order_[static_cast<size_t>(pick(rng_))];
}

}  // namespace pio
