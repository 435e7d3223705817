// The text decoder's weights, looked up by their Hugging Face names and checked against the config.
#pragma once

#include <vector>

#include "gpu/backend.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace pio {

struct TextLayerWeights {
  WeightView input_norm, q_proj, k_proj, v_proj, o_proj, q_norm, k_norm;
  WeightView post_attention_norm, gate_proj, up_proj, down_proj;
};

struct TextWeights {
  WeightView embed_tokens;
  std::vector<TextLayerWeights> layers;
  WeightView final_norm;
  WeightView lm_head;  // embed_tokens when tied
};

// Throws ModelError naming the first tensor that is missing or disagrees with the config.
TextWeights load_text_weights(const Checkpoint& ckpt, const TextConfig& cfg);

}  // namespace pio
