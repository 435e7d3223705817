#include "model/prefill_batch.h"

#include <algorithm>

#include "model/errors.h"

namespace pio {
namespace {

// The rows [first, end) of an entry, checked against its prompt.
struct Range {
  int64_t first, end;
};

Range range_of(const PrefillEntry& e) {
  const auto rows = static_cast<int64_t>(e.prompt->ids.size());
  const int64_t end = e.count < 0 ? rows : e.first + e.count;
  if (e.first < 0 || end <= e.first || end > rows || static_cast<int64_t>(e.prompt->positions.size()) < end)
    throw ModelError("prefill range [" + std::to_string(e.first) + ", " + std::to_string(end) +
                     ") is outside the prompt's " + std::to_string(rows) + " rows");
  return {e.first, end};
}

// Rows below this come from the prompt's embeddings (it has images); later rows, tokens generated
// after the prompt, are plain ids.
int64_t embedded_rows(const PrefillEntry& e, int64_t hidden) {
  return static_cast<int64_t>(e.prompt->embeddings.size()) / hidden;
}

size_t deepstack_layers(std::span<const PrefillEntry> entries, int64_t hidden) {
  size_t layers = 0;
  bool seen = false;
  for (const auto& e : entries) {
    if (range_of(e).first >= embedded_rows(e, hidden)) continue;
    const size_t k = e.prompt->images->deepstack.size();
    if (seen && k != layers) throw ModelError("prompts in one batch carry different numbers of DeepStack layers");
    layers = k;
    seen = true;
  }
  return layers;
}

}  // namespace

PrefillBatch::PrefillBatch(TextModel& text, std::span<const PrefillEntry> entries) {
  const int64_t hidden = text.config().hidden_size;
  const bool embed_rows = std::any_of(entries.begin(), entries.end(),
                                      [&](const PrefillEntry& e) { return range_of(e).first < embedded_rows(e, hidden); });
  const size_t layers = deepstack_layers(entries, hidden);
  deepstack_features_.resize(layers);
  const auto h = static_cast<size_t>(hidden);
  for (const auto& e : entries) {
    const PreparedPrompt& p = *e.prompt;
    const auto [first, end] = range_of(e);
    const auto batch_first = static_cast<int64_t>(ids_.size());
    batch_.steps.push_back({end - first, e.all_logits, e.blocks, first});
    ids_.insert(ids_.end(), p.ids.begin() + first, p.ids.begin() + end);
    positions_.insert(positions_.end(), p.positions.begin() + first, p.positions.begin() + end);
    if (!embed_rows) continue;
    const int64_t from_prompt = std::clamp(embedded_rows(e, hidden) - first, int64_t{0}, end - first);
    embeddings_.insert(embeddings_.end(), p.embeddings.begin() + first * hidden,
                       p.embeddings.begin() + (first + from_prompt) * hidden);
    embeddings_.resize(embeddings_.size() + static_cast<size_t>(end - first - from_prompt) * h);
    if (first + from_prompt < end) {
      text.embed({p.ids.data() + first + from_prompt, static_cast<size_t>(end - first - from_prompt)},
                 embeddings_.data() + (batch_first + from_prompt) * hidden);
    }
    if (from_prompt == 0) continue;
    // DeepStack feature i belongs to the prompt's i-th visual row.
    const auto lo = std::lower_bound(p.visual_rows.begin(), p.visual_rows.end(), first);
    const auto hi = std::lower_bound(p.visual_rows.begin(), p.visual_rows.end(), end);
    for (auto it = lo; it != hi; ++it) {
      deepstack_rows_.push_back(batch_first + (*it - first));
      const auto i = static_cast<int64_t>(it - p.visual_rows.begin());
      for (size_t k = 0; k < layers; ++k) {
        const auto& f = p.images->deepstack[k];
        deepstack_features_[k].insert(deepstack_features_[k].end(), f.begin() + i * hidden, f.begin() + (i + 1) * hidden);
      }
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
