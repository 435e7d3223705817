// Greedy generation for one sequence: prefill the prompt, then decode one token per step.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "model/kv_cache.h"
#include "model/text_model.h"

namespace pio {

struct GenerateOptions {
  int max_tokens = 16;
  std::vector<int32_t> stop_ids;                 // generation ends after emitting one of these
  std::function<void(int32_t)> on_token;         // called for each generated token, if set
};

// Returns the generated ids (the stop id included when one ends generation). The sequence's
// KV blocks are released before returning.
std::vector<int32_t> generate_greedy(TextModel& model, PagedKvCache& cache, std::span<const int32_t> prompt,
                                     const GenerateOptions& options);

}  // namespace pio
