// How much of a checkpoint goes on a device (--gpu-layers, --gpu-vision): the sizes to decide by
// and the decision, apart from any device so that it is tested on the CPU. As llama.cpp's -ngl,
// a count of decoder layers goes on the device and the rest stays on the CPU; here the first
// layers go, and the embedding and lm_head only with the whole decoder.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/model_weights.h"

namespace pio {

struct OffloadSizes {
  std::vector<int64_t> layer_bytes;  // each decoder layer's weights plus its share of the KV cache
  int64_t head_bytes = 0;            // embedding, final norm and lm_head (once when tied)
  int64_t vision_bytes = 0;          // the vision tower (0 without one)
  int layers() const { return static_cast<int>(layer_bytes.size()); }
};

// The bytes a device takes for `weights` as loaded (their formats; matmul biases in f32,
// WeightPlacement's measure), the KV cache taking kv_bytes spread evenly over the layers.
OffloadSizes offload_sizes(const ModelWeights& weights, int64_t kv_bytes);

struct OffloadPlan {
  int gpu_layers = 0;          // the first gpu_layers decoder layers on the device
  bool vision_on_device = false;
  int64_t device_bytes = 0;    // what the plan puts on the device
};

// gpu_layers: "auto" or a count; gpu_vision: "on", "off" or "auto". auto layers: every layer and
// the head when they fit in free_bytes (less the tower when it is "on"), else as many layers as
// fit. auto vision: on when the tower fits in what the layers leave. Throws ModelError for a count
// beyond the decoder's layers.
OffloadPlan plan_offload(const OffloadSizes& sizes, int64_t free_bytes, std::string_view gpu_layers,
                         std::string_view gpu_vision);

// Whether what the plan puts on the device fits in free_bytes (nothing always does, even when the
// margin leaves less than nothing): auto layers with auto or off vision always fit; a count, or a
// tower asked for that does not fit alone, may not.
inline bool fits(const OffloadPlan& plan, int64_t free_bytes) {
  return plan.device_bytes == 0 || plan.device_bytes <= free_bytes;
}

// "20 of 28 decoder layers and the vision tower on the device (1.9 GiB of 2.0 GiB free), ..."
std::string describe(const OffloadPlan& plan, const OffloadSizes& sizes, int64_t free_bytes);

}  // namespace pio
