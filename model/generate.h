// Generation for one sequence: prefill the prepared prompt, then decode one token per step
// with the sampler, streaming each token to a callback.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/kv_cache.h"
#include "model/prompt.h"
#include "model/sampler.h"
#include "model/text_model.h"

namespace pio {

struct GenerateOptions {
  int max_tokens = 16;
  std::vector<int32_t> stop_ids;          // generation ends after emitting one of these
  SamplingOptions sampling;               // greedy by default
  int32_t id_limit = 0;                   // only ids below it are generated (a tokenizer's
                                          // vocabulary inside a padded embedding); 0: all
  std::function<void(int32_t)> on_token;  // called for each generated token, if set
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // the stop id included when one ended generation
  double prefill_seconds = 0;   // time to the first token
  double decode_seconds = 0;    // the remaining tokens
  uint64_t seed = 0;            // the sampler's (options.sampling.seed, or the fresh one it drew)
};

// The sequence's KV blocks are released before returning, also on error.
GenerateResult generate(TextModel& model, PagedKvCache& cache, const PreparedPrompt& prompt,
                        const GenerateOptions& options);

}  // namespace pio
