#include "model/prompt.h"

#include <algorithm>
#include <cstring>

#include "model/errors.h"

namespace pio {

namespace {

// Features against the model, before any placeholder is expanded: a single <|image_pad|> grows
// to its grid's token count, so the grids must first agree with the rows the features hold.
void check_features(const ImageFeatures& f, const ModelConfig& cfg, const TextConfig& text, int merge) {
  if (f.hidden != text.hidden_size)
    throw ModelError("image features are " + std::to_string(f.hidden) + " wide, the model's hidden size is " +
                     std::to_string(text.hidden_size));
  int64_t tokens = 0;
  for (size_t i = 0; i < f.grids.size(); ++i) {
    if (!grid_fits(f.grids[i], merge))
      throw ModelError("image " + std::to_string(i) + ": its grid is empty, too large or not a multiple of the "
                       "model's merge size " + std::to_string(merge));
    tokens += image_token_count(f.grids[i], merge);
  }
  if (tokens != f.tokens)
    throw ModelError("the image grids make " + std::to_string(tokens) + " tokens at the model's merge size " +
                     std::to_string(merge) + ", the features hold " + std::to_string(f.tokens));
  // A model with a vision tower says how many DeepStack sets its features carry.
  const size_t sets = cfg.vision ? cfg.vision->deepstack_visual_indexes.size() : f.deepstack.size();
  if (f.deepstack.size() != sets || static_cast<int64_t>(sets) > text.num_hidden_layers)
    throw ModelError("the image features carry " + std::to_string(f.deepstack.size()) +
                     " DeepStack feature sets, the model takes " + std::to_string(sets) + " (at most one per " +
                     "decoder layer, " + std::to_string(text.num_hidden_layers) + ")");
}

}  // namespace

PreparedPrompt prepare_prompt(TextModel& text, const ModelConfig& cfg, std::span<const int32_t> ids,
                              const ImageFeatures* images) {
  const int merge = cfg.vision ? cfg.vision->spatial_merge_size : 2;
  const std::span<const ImageGrid> grids = images ? std::span<const ImageGrid>(images->grids) : std::span<const ImageGrid>();
  if (images) check_features(*images, cfg, text.config(), merge);
  MultimodalPrompt mm = build_multimodal_prompt(ids, grids, cfg, merge);
  PreparedPrompt p;
  p.ids = std::move(mm.ids);
  p.positions = std::move(mm.positions);
  p.next_position = mm.next_position;
  p.visual_rows = std::move(mm.visual_rows);
  if (!images) return p;

  const int64_t hidden = text.config().hidden_size;
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
