#include "model/prompt.h"

#include <algorithm>
#include <cstring>

#include "model/errors.h"

namespace pio {

PreparedPrompt prepare_prompt(TextModel& text, const ModelConfig& cfg, std::span<const int32_t> ids,
                              const ImageFeatures* images) {
  const int merge = cfg.vision ? cfg.vision->spatial_merge_size : 2;
  const std::span<const ImageGrid> grids = images ? std::span<const ImageGrid>(images->grids) : std::span<const ImageGrid>();
  MultimodalPrompt mm = build_multimodal_prompt(ids, grids, cfg, merge);
  PreparedPrompt p;
  p.ids = std::move(mm.ids);
  p.positions = std::move(mm.positions);
  p.next_position = mm.next_position;
  p.visual_rows = std::move(mm.visual_rows);
  if (!images) return p;

  const int64_t hidden = text.config().hidden_size;
  if (images->hidden != hidden)
    throw ModelError("image features are " + std::to_string(images->hidden) + " wide, the model's hidden size is " +
                     std::to_string(hidden));
  if (static_cast<int64_t>(p.visual_rows.size()) != images->tokens)
    throw ModelError("the prompt has " + std::to_string(p.visual_rows.size()) + " image tokens, the features " +
                     std::to_string(images->tokens));
  if (static_cast<int>(images->deepstack.size()) > text.config().num_hidden_layers)
    throw ModelError("more DeepStack feature sets than decoder layers");
  p.embeddings.resize(p.ids.size() * static_cast<size_t>(hidden));
  // Image tokens have no embedding row of their own; embed a harmless id there, then overwrite.
  std::vector<int32_t> safe_ids = p.ids;
  for (int64_t r : p.visual_rows) safe_ids[static_cast<size_t>(r)] = 0;
  text.embed(safe_ids, p.embeddings.data());
  for (size_t i = 0; i < p.visual_rows.size(); ++i)
    std::memcpy(p.embeddings.data() + p.visual_rows[i] * hidden, images->embeds.data() + static_cast<int64_t>(i) * hidden,
                sizeof(float) * static_cast<size_t>(hidden));
  p.images = images;
  return p;
}

}  // namespace pio
