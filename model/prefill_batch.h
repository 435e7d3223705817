// Rows of several prepared prompts computed in one forward pass: whole prompts, prefill chunks
// (a row range of a prompt) or decode rows (a one-row range past the prompt's embedded rows).
// Their rows are concatenated, embedded as rows whenever one range holds image features, and
// their DeepStack rows moved to batch rows.
#pragma once

#include <span>
#include <vector>

#include "model/prompt.h"
#include "model/text_model.h"

namespace pio {

struct PrefillEntry {
  const PreparedPrompt* prompt = nullptr;
  std::span<const int32_t> blocks;  // the sequence's block table (SequenceStep::blocks)
  bool all_logits = false;  // logits for every row of the range, else only for its last
  int64_t first = 0;        // the range of prompt rows: [first, first + count), also KV slots
  int64_t count = -1;       // -1: to the end of the prompt
};

class PrefillBatch {
 public:
  // Throws ModelError for a range outside its prompt, or when prompts with images disagree on
  // the number of DeepStack layers.
  PrefillBatch(TextModel& text, std::span<const PrefillEntry> entries);
  PrefillBatch(const PrefillBatch&) = delete;  // batch() points into the members
  PrefillBatch& operator=(const PrefillBatch&) = delete;

  const ForwardBatch& batch() const { return batch_; }

 private:
  std::vector<int32_t> ids_;
  std::vector<Pos3> positions_;
  std::vector<float> embeddings_;  // [rows, hidden]; empty when no range holds image rows
  std::vector<int64_t> deepstack_rows_;
  std::vector<std::vector<float>> deepstack_features_;  // per layer: [deepstack rows, hidden]
  DeepstackInput deepstack_;
  ForwardBatch batch_;
};

}  // namespace pio
