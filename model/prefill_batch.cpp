#include "model/prefill_batch.h"

#include <algorithm>

#include "model/errors.h"

namespace pio {
namespace {

bool has_images(const PrefillEntry& e) { return !e.prompt->embeddings.empty(); }

size_t deepstack_layers(std::span<const PrefillEntry> entries) {
  size_t layers = 0;
  bool seen = false;
  for (const auto& e : entries) {
    if (!has_images(e)) continue;
    const size_t k = e.prompt->images->deepstack.size();
    if (seen && k != layers) throw ModelError("prompts in one batch carry different numbers of DeepStack layers");
    layers = k;
    seen = true;
  }
  return layers;
}

}  // namespace

PrefillBatch::PrefillBatch(TextModel& text, std::span<const PrefillEntry> entries) {
  const bool embed_rows = std::any_of(entries.begin(), entries.end(), has_images);
  const size_t layers = deepstack_layers(entries);
  const auto hidden = static_cast<size_t>(text.config().hidden_size);
  deepstack_features_.resize(layers);
  for (const auto& e : entries) {
    const PreparedPrompt& p = *e.prompt;
    const auto first_row = static_cast<int64_t>(ids_.size());
    batch_.steps.push_back({e.seq, static_cast<int64_t>(p.ids.size()), e.all_logits});
    ids_.insert(ids_.end(), p.ids.begin(), p.ids.end());
    positions_.insert(positions_.end(), p.positions.begin(), p.positions.end());
    if (!embed_rows) continue;
    if (has_images(e)) {
      embeddings_.insert(embeddings_.end(), p.embeddings.begin(), p.embeddings.end());
      for (int64_t r : p.visual_rows) deepstack_rows_.push_back(first_row + r);
      for (size_t k = 0; k < layers; ++k) {
        const auto& f = p.images->deepstack[k];
        deepstack_features_[k].insert(deepstack_features_[k].end(), f.begin(), f.end());
      }
    } else {
      embeddings_.resize(embeddings_.size() + p.ids.size() * hidden);
      text.embed(p.ids, embeddings_.data() + static_cast<size_t>(first_row) * hidden);
    }
  }
  batch_.ids = ids_;
  batch_.positions = positions_;
  if (!embed_rows) return;
  batch_.embeddings = embeddings_.data();
  deepstack_.rows = deepstack_rows_;
  for (const auto& f : deepstack_features_) deepstack_.per_layer.push_back(f.data());
  batch_.deepstack = &deepstack_;
}

}  // namespace pio
