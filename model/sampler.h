// Picks the next token from a row of logits: greedy, or sampled the way HF's generate processes
// logits: repetition penalty (RepetitionPenaltyLogitsProcessor), presence and frequency
// penalties (OpenAI / vLLM semantics), then temperature, top-k, top-p, min-p (MinPLogitsWarper,
// applied after top-p as transformers orders its warpers), then a draw that is a function of the
// seed and the token's index alone (sample_draw), so a sequence resumed anywhere draws the same.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace pio {

struct SamplingOptions {
  float temperature = 0.0f;         // 0: greedy
  int top_k = 0;                    // 0: no limit
  float top_p = 1.0f;               // 1: no limit
  std::optional<uint64_t> seed = std::nullopt;  // none: a fresh one (fresh_seed); 0 is a seed
  float min_p = 0.0f;               // 0: off; keeps ids with p >= min_p * p_max
  float repetition_penalty = 1.0f;  // 1: off; over prompt and generated ids (HF)
  float presence_penalty = 0.0f;    // 0: off; subtracted once from every generated id's logit
  float frequency_penalty = 0.0f;   // 0: off; subtracted per occurrence in the generated ids

  bool has_penalties() const {
    return repetition_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f;
  }
};

// A seed from the system's entropy source (std::random_device), below 2^63 so that it reads the
// same as a signed 64-bit integer (OpenAI's `seed`).
uint64_t fresh_seed();

// The uniform draw in [0, 1) that picks the token at `index` (0: the first generated token) of a
// sequence sampled with `seed`: splitmix64 of the two, nothing else.
double sample_draw(uint64_t seed, uint64_t index);

class Sampler {
 public:
  // prompt: the ids the repetition penalty covers besides the generated ones. generated: ids
  // this sequence generated already (resuming it): the penalties count them, and the next draw
  // is the one of index generated.size(). Without options.seed, a fresh_seed() is used (seed()).
  explicit Sampler(const SamplingOptions& options, std::span<const int32_t> prompt = {},
                   std::span<const int32_t> generated = {});

  // Picks the next id from one row of logits and records it as generated.
  int32_t next(std::span<const float> logits);
  // The seed the draws come from.
  uint64_t seed() const { return seed_; }

 private:
  std::span<const float> penalised(std::span<const float> logits);
  int32_t sample(std::span<const float> logits);

  SamplingOptions opt_;
  uint64_t seed_;
  uint64_t index_;                                   // of the next generated token
  std::unordered_map<int32_t, int32_t> generated_;  // id -> occurrences among generated ids
  std::vector<int32_t> prompt_ids_;                  // distinct prompt ids (penalties only)
  std::vector<float> work_;                          // penalised logits
  std::vector<int32_t> order_;                       // candidate ids, reused between calls
  std::vector<double> probs_;
};

// The index of the largest logit, the first of equals (std::max_element's choice); NaNs are
// never chosen, and 0 is returned when there is nothing else.
int32_t argmax(std::span<const float> logits);

// The logit after the penalties for an id seen `in_prompt` and `count` times among generated
// ids: HF's repetition penalty (divide a positive logit, multiply a negative one), then
// logit - presence * (count > 0) - frequency * count.
float penalised_logit(float logit, bool in_prompt, int32_t count, const SamplingOptions& o);

}  // namespace pio
