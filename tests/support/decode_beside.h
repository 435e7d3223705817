// A decode step beside others, for the tests of batch invariance on a device (test_device_memory
// on the CPU's stand-in, test_cuda_model on a GPU): the logits of one sequence's decode step
// alone and with other sequences' decode steps and a prefill chunk in the same step must be
// equal bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "model/kv_cache.h"
#include "model/rope.h"
#include "model/text_model.h"

namespace test {

struct StepLogits {
  std::vector<float> decode;  // sequence 0's decode step
  std::vector<float> last;    // the step's last row: the prefill chunk's last token when there is one
};

// Sequence 0's decode step after a 7-token prompt, computed in one step with `decodes` more
// sequences' decode steps (their prompts alike) and then, when prefill > 0, a new sequence's
// first `prefill` prompt tokens, as the scheduler orders them: decodes first.
inline StepLogits decode_beside(pio::TextModel& text, int64_t decodes, int64_t prefill) {
  pio::PagedKvCache cache(text.kv_layers(), text.kv_shape(), 1 << 22, 4);
  std::vector<pio::SequenceId> seqs;
  for (int64_t s = 0; s <= decodes; ++s) {
    seqs.push_back(cache.pool().add_sequence());
    std::vector<int32_t> ids;
    for (int64_t i = 0; i < 7; ++i) ids.push_back(static_cast<int32_t>((s * 131 + i * 17 + 3) % 500));
    std::vector<pio::Pos3> positions;
    pio::text_positions(0, 7, positions);
    pio::ForwardBatch batch;
    batch.steps.push_back({7, false, {}, 0});
    batch.ids = ids;
    batch.positions = positions;
    cache.forward(text, batch, {&seqs.back(), 1});
  }
  pio::ForwardBatch step;
  std::vector<int32_t> ids(seqs.size(), 42);
  std::vector<pio::Pos3> positions;
  pio::text_positions(7, 1, positions);
  positions.resize(seqs.size(), positions.front());
  step.steps.assign(seqs.size(), {1, false, {}, 0});
  if (prefill > 0) {
    seqs.push_back(cache.pool().add_sequence());
    for (int64_t i = 0; i < prefill; ++i) ids.push_back(static_cast<int32_t>((i * 29 + 7) % 500));
    std::vector<pio::Pos3> p;
    pio::text_positions(0, prefill, p);
    positions.insert(positions.end(), p.begin(), p.end());
    step.steps.push_back({prefill, false, {}, 0});
  }
  step.ids = ids;
  step.positions = positions;
  const auto logits = cache.forward(text, step, seqs);
  const int64_t vocab = text.config().vocab_size;
  return {std::vector<float>(logits.begin(), logits.begin() + vocab), std::vector<float>(logits.end() - vocab, logits.end())};
}

}  // namespace test
