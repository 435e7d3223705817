// An `--image-embeds` file (from `pio encode-image`), read as generate/logits read it, then one
// image placeholder per image expanded to the image's token count as their prompt is.
#include <vector>

#include "fuzz/harness.h"
#include "fuzz/scratch_file.h"
#include "model/image_features.h"

void pio::fuzz::fuzz_one(std::span<const uint8_t> data) {
  const ImageFeatures f = read_image_features(write_scratch_file("embeds.safetensors", data) / "embeds.safetensors");
  const auto per_layer = static_cast<size_t>(f.tokens * f.hidden);
  require(f.embeds.size() == per_layer, "image_embeds hold tokens x hidden values");
  for (const auto& d : f.deepstack) require(d.size() == per_layer, "each DeepStack layer holds tokens x hidden values");

  const ModelConfig cfg;  // Qwen3-VL's token ids
  std::vector<int32_t> ids;
  for (size_t i = 0; i < f.grids.size(); ++i)
    ids.insert(ids.end(), {cfg.vision_start_token_id, cfg.image_token_id, cfg.vision_end_token_id});
  build_multimodal_prompt(ids, f.grids, cfg, 2);
}
