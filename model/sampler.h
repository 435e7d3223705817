// Picks the next token from a row of logits: greedy, or sampled the way HF processes logits
// (temperature, then top-k, then top-p, then a draw), reproducible from a seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace pio {

struct SamplingOptions {
  float temperature = 0.0f;  // 0: greedy
  int top_k = 0;             // 0: no limit
  float top_p = 1.0f;        // 1: no limit
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& options);
  int32_t next(std::span<const float> logits);

 private:
  SamplingOptions opt_;
  std::mt19937_64 rng_;
  std::vector<int32_t> order_;  // candidate ids, reused between calls
  std::vector<double> probs_;
};

int32_t argmax(std::span<const float> logits);

}  // namespace pio
