// A prompt ready for prefill: ids with image placeholders expanded, their 3D positions, and,
// when images are present, the input embeddings with image features scattered over the
// <|image_pad|> rows plus the DeepStack features for those rows.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/image_features.h"
#include "model/mm_positions.h"
#include "model/text_model.h"

namespace pio {

struct PreparedPrompt {
  std::vector<int32_t> ids;
  std::vector<Pos3> positions;
  int32_t next_position = 0;  // the first generated token's position (rope_delta applied)
  std::vector<float> embeddings;  // [ids, hidden]; empty for text-only prompts
  std::vector<int64_t> visual_rows;
  const ImageFeatures* images = nullptr;  // not owned
};

// Throws ModelError when the placeholders and images disagree, or features do not fit the model
// (their width, their grids at the model's merge size, their number of DeepStack sets); the
// features are checked before any placeholder is expanded.
PreparedPrompt prepare_prompt(TextModel& text, const ModelConfig& cfg, std::span<const int32_t> ids,
                              const ImageFeatures* images);

}  // namespace pio
