// The vision tower's weights (model.visual.*), looked up by their Hugging Face names and
// checked against the vision config.
#pragma once

#include <vector>

#include "gpu/backend.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace pio {

struct VisionBlockWeights {
  WeightView norm1_weight, norm1_bias, qkv_weight, qkv_bias, proj_weight, proj_bias;
  WeightView norm2_weight, norm2_bias, fc1_weight, fc1_bias, fc2_weight, fc2_bias;
};

// A patch merger: LayerNorm, then fc1 -> exact GELU -> fc2 over each 2x2 group of patches.
struct VisionMergerWeights {
  WeightView norm_weight, norm_bias, fc1_weight, fc1_bias, fc2_weight, fc2_bias;
};

struct VisionWeights {
  WeightView patch_weight;  // the Conv3d kernel as [hidden, C * T * p * p]
  WeightView patch_bias;
  WeightView pos_embed;     // [num_position_embeddings, hidden], a square grid
  std::vector<VisionBlockWeights> blocks;
  VisionMergerWeights merger;                   // normalises each patch before the concat
  std::vector<VisionMergerWeights> deepstack;   // one per deepstack_visual_indexes entry, norm after the concat
};

// Throws ModelError when the checkpoint has no vision tower, a tensor is missing or disagrees
// with the config, or the config asks for something the encoder does not implement.
VisionWeights load_vision_weights(const Checkpoint& ckpt, const VisionConfig& cfg);

}  // namespace pio
