// Several prepared prompts prefilled in one forward pass: their rows concatenated, embedded as
// rows whenever one of them carries image features, and their DeepStack rows moved to batch rows.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/prompt.h"
#include "model/text_model.h"

namespace pio {

struct PrefillEntry {
  const PreparedPrompt* prompt = nullptr;
  SequenceId seq = 0;
  bool all_logits = false;  // logits for every prompt row, else only for the last
};

class PrefillBatch {
 public:
  // Throws ModelError when prompts with images disagree on the number of DeepStack layers.
  PrefillBatch(TextModel& text, std::span<const PrefillEntry> entries);
  PrefillBatch(const PrefillBatch&) = delete;  // batch() points into the members
  PrefillBatch& operator=(const PrefillBatch&) = delete;

  const ForwardBatch& batch() const { return batch_; }

 private:
  std::vector<int32_t> ids_;
  std::vector<Pos3> positions_;
  std::vector<float> embeddings_;  // [rows, hidden]; empty when no prompt has images
  std::vector<int64_t> deepstack_rows_;
  std::vector<std::vector<float>> deepstack_features_;  // per layer: [deepstack rows, hidden]
  DeepstackInput deepstack_;
  ForwardBatch batch_;
};

}  // namespace pio
