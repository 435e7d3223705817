// Picks the next token from a row of logits: greedy, or sampled the way HF's generate processes
// logits: repetition penalty (RepetitionPenaltyLogitsProcessor), presence and frequency
// penalties (OpenAI / vLLM semantics), then temperature, top-k, top-p, min-p (MinPLogitsWarper,
// applied after top-p as transformers orders its warpers), then a draw that is a function of the
// seed and the token's index alone (sample_draw), so a sequence resumed anywhere draws the same.
// No sort: each cut is a threshold found by selection, in time linear in the vocabulary.
// OpenAI's logit_bias is added to the raw logits before the penalties (vLLM's order). On request
// it also gives the log-probabilities of the distribution the token was drawn from: the
// processed logits (bias, penalties) over the temperature (1 when greedy), log-softmaxed over the
// whole row, before top-k, top-p and min-p cut it (vLLM's processed logprobs).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace pio {

// A bias OpenAI's logit_bias adds to one id's logit.
struct LogitBias {
  int32_t id = 0;
  float bias = 0;  // OpenAI: in [-100, 100]
};

// An id with its log-probability (natural log).
struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0;
};

// One sampled token's log-probabilities: its own, and the most likely ids of the same
// distribution, most likely first (ties: the lower id first).
struct TokenLogprobs {
  TokenLogprob chosen;
  std::vector<TokenLogprob> top;
};

struct SamplingOptions {
  float temperature = 0.0f;         // 0: greedy
  int top_k = 0;                    // 0: no limit
  float top_p = 1.0f;               // 1: no limit
  std::optional<uint64_t> seed = std::nullopt;  // none: a fresh one (fresh_seed); 0 is a seed
  float min_p = 0.0f;               // 0: off; keeps ids with p >= min_p * p_max
  float repetition_penalty = 1.0f;  // 1: off; over prompt and generated ids (HF)
  float presence_penalty = 0.0f;    // 0: off; subtracted once from every generated id's logit
  float frequency_penalty = 0.0f;   // 0: off; subtracted per occurrence in the generated ids
  std::vector<LogitBias> logit_bias = {};  // added to the raw logits; ids outside the row are ignored
  bool logprobs = false;            // each sampled token's TokenLogprobs
  int32_t top_logprobs = 0;         // with logprobs: how many most likely ids come with it

  bool has_penalties() const {
    return repetition_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f;
  }
  // Whether the logits are changed before the draw (bias or penalties).
  bool processes_logits() const { return has_penalties() || !logit_bias.empty(); }
};

// A seed from the system's entropy source (std::random_device), below 2^53: it reads the same as
// a signed 64-bit integer (OpenAI's `seed`) and survives a JSON number in JavaScript (the OpenAI
// JS SDK, the chat page), whose doubles round larger integers, so a client can send it back.
constexpr uint64_t kFreshSeedLimit = uint64_t{1} << 53;
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

  // Picks the next id from one row of logits and records it as generated. With a non-null
  // `logprobs`, fills it with the id's log-probability and the options' top_logprobs most
  // likely ids (log_probabilities); the id picked is the same either way.
  int32_t next(std::span<const float> logits, TokenLogprobs* logprobs = nullptr);
  // The seed the draws come from.
  uint64_t seed() const { return seed_; }

 private:
  std::span<const float> processed(std::span<const float> logits);
  int32_t sample(std::span<const float> logits);

  SamplingOptions opt_;
  uint64_t seed_;
  uint64_t index_;                                   // of the next generated token
  std::unordered_map<int32_t, int32_t> generated_;  // id -> occurrences among generated ids
  std::vector<int32_t> prompt_ids_;                  // distinct prompt ids (penalties only)
  std::vector<float> work_;                          // processed logits (bias, penalties)
  std::vector<float> weights_, scratch_;             // truncated_weights' buffers, reused
};

// The distribution a sampled token is drawn from, unnormalised: weights[i] =
// e^((logits[i] - max) / temperature) for the ids that top-k, top-p and min-p keep, 0 for the
// others and for NaN or -infinity logits (transformers' TopK, TopP and MinP logits warpers, in
// that order). Each cut is a threshold on the weight, so every id tied at a cut is kept. Top-p
// keeps the fewest most likely ids whose mass reaches top_p of the top-k ids' mass. weights
// becomes as long as logits; scratch is working memory. Needs temperature > 0. Returns false,
// leaving weights as they were, when the row's largest logit is not finite (none is, or one is
// infinite): then there is no distribution to draw from.
bool truncated_weights(std::span<const float> logits, const SamplingOptions& o, std::vector<float>& weights,
                       std::vector<float>& scratch);

// The index of the largest logit, the first of equals (std::max_element's choice); NaNs are
// never chosen, and 0 is returned when there is nothing else.
int32_t argmax(std::span<const float> logits);

// The logit after the penalties for an id seen `in_prompt` and `count` times among generated
// ids: HF's repetition penalty (divide a positive logit, multiply a negative one), then
// logit - presence * (count > 0) - frequency * count.
float penalised_logit(float logit, bool in_prompt, int32_t count, const SamplingOptions& o);

// The log-softmax of logits / temperature (temperature > 0) at `chosen`, and the `top` most
// likely ids with theirs, most likely first (ties: the lower id first; NaN logits never listed).
// Each e^x in float (relative error about 2e-7, vectorised), summed in double; -infinity for a
// -infinity logit. Throws std::invalid_argument for a `chosen` outside the row.
TokenLogprobs log_probabilities(std::span<const float> logits, float temperature, int32_t chosen, int32_t top);

}  // namespace pio
