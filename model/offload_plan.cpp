#include "model/offload_plan.h"

#include <charconv>
#include <cstdio>

#include "model/errors.h"
#include "model/weight_placement.h"

namespace pio {
namespace {

std::string gib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
  return text;
}

}  // namespace

OffloadSizes offload_sizes(const ModelWeights& weights, int64_t kv_bytes) {
  const TextWeights& text = weights.text();
  OffloadSizes sizes;
  const auto layers = static_cast<int64_t>(text.layers.size());
  for (const TextLayerWeights& l : text.layers) {
    WeightPlacement measure;
    measure.place(l);
    sizes.layer_bytes.push_back(static_cast<int64_t>(measure.uploaded_bytes()) + (layers ? kv_bytes / layers : 0));
  }
  WeightPlacement head;
  head.place_head(text);
  sizes.head_bytes = static_cast<int64_t>(head.uploaded_bytes());
  if (weights.has_vision()) {
    WeightPlacement vision;
    vision.place(weights.vision());
    sizes.vision_bytes = static_cast<int64_t>(vision.uploaded_bytes());
  }
  return sizes;
}

OffloadPlan plan_offload(const OffloadSizes& sizes, int64_t free_bytes, std::string_view gpu_layers,
                         std::string_view gpu_vision) {
  OffloadPlan plan;
  int64_t layers_bytes = 0;
  if (gpu_layers == "auto") {
    // A tower asked for comes first: the layers fill what it leaves.
    const int64_t layer_budget = free_bytes - (gpu_vision == "on" ? sizes.vision_bytes : 0);
    int64_t all = sizes.head_bytes;
    for (const int64_t b : sizes.layer_bytes) all += b;
    if (all <= layer_budget) {
      plan.gpu_layers = sizes.layers();
      layers_bytes = all;
    } else {
      // Not everything: layers while they fit, leaving the last one (and with it the head) on the CPU.
      while (plan.gpu_layers + 1 < sizes.layers() &&
             layers_bytes + sizes.layer_bytes[static_cast<size_t>(plan.gpu_layers)] <= layer_budget)
        layers_bytes += sizes.layer_bytes[static_cast<size_t>(plan.gpu_layers++)];
    }
  } else {
    int n = -1;
    const auto [end, ec] = std::from_chars(gpu_layers.data(), gpu_layers.data() + gpu_layers.size(), n);
    if (ec != std::errc() || end != gpu_layers.data() + gpu_layers.size() || n < 0 || n > sizes.layers())
      throw ModelError("--gpu-layers " + std::string(gpu_layers) + ": the decoder has " +
                       std::to_string(sizes.layers()) + " layers");
    plan.gpu_layers = n;
    for (int l = 0; l < n; ++l) layers_bytes += sizes.layer_bytes[static_cast<size_t>(l)];
    if (n == sizes.layers()) layers_bytes += sizes.head_bytes;
  }
  plan.vision_on_device = sizes.vision_bytes > 0 &&
                          (gpu_vision == "on" || (gpu_vision == "auto" && layers_bytes + sizes.vision_bytes <= free_bytes));
  plan.device_bytes = layers_bytes + (plan.vision_on_device ? sizes.vision_bytes : 0);
  return plan;
}

std::string describe(const OffloadPlan& plan, const OffloadSizes& sizes, int64_t free_bytes) {
  std::string text = std::to_string(plan.gpu_layers) + " of " + std::to_string(sizes.layers()) + " decoder layers";
  if (plan.gpu_layers == sizes.layers()) text += " with the embedding and lm_head";
  if (sizes.vision_bytes > 0) text += plan.vision_on_device ? " and the vision tower" : " (the vision tower on the CPU)";
  return text + " on the device: " + gib(plan.device_bytes) + " of " + gib(free_bytes) + " free beyond the margin";
}

}  // namespace pio
