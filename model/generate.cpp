#include "model/generate.h"

#include <algorithm>

#include "model/errors.h"

namespace pio {

std::vector<int32_t> generate_greedy(TextModel& model, PagedKvCache& cache, std::span<const int32_t> prompt,
                                     const GenerateOptions& options) {
  if (prompt.empty()) throw ModelError("the prompt has no tokens");
  const SequenceId seq = cache.add_sequence();
  std::vector<int32_t> out;
  std::vector<Pos3> positions;
  try {
    std::vector<int32_t> step_ids(prompt.begin(), prompt.end());
    int32_t next_pos = 0;
    const int64_t vocab = model.config().vocab_size;
    while (static_cast<int>(out.size()) < options.max_tokens) {
      text_positions(next_pos, static_cast<int64_t>(step_ids.size()), positions);
      ForwardBatch batch;
      batch.steps.push_back({seq, static_cast<int64_t>(step_ids.size()), false});
      batch.ids = step_ids;
      batch.positions = positions;
      const auto logits = model.forward(batch, cache);
      next_pos += static_cast<int32_t>(step_ids.size());
      const auto best = static_cast<int32_t>(std::max_element(logits.begin(), logits.begin() + vocab) - logits.begin());
      out.push_back(best);
      if (options.on_token) options.on_token(best);
      if (std::find(options.stop_ids.begin(), options.stop_ids.end(), best) != options.stop_ids.end()) break;
      step_ids.assign(1, best);
    }
  } catch (...) {
    cache.release(seq);
    throw;
  }
  cache.release(seq);
  return out;
}

}  // namespace pio
