#include "model/text_model.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "model/errors.h"

namespace pio {
int LayerSplit::on_device(int layers) const {
  if (host == nullptr || host == device || device_layers < 0) return layers;
  if (device_layers > layers)
    throw ModelError("--gpu-layers " + std::to_string(device_layers) + ": the decoder has " + std::to_string(layers) +
                     " layers");
  return device_layers;
}

std::vector<KvLayerRange> LayerSplit::kv_layers(int layers) const {
  const int n = on_device(layers);
  std::vector<KvLayerRange> ranges;
  if (n > 0) ranges.push_back({device, n});
  if (n < layers) ranges.push_back({host, layers - n});
  return ranges;
}

TextModel::TextModel(const TextConfig& cfg, const TextWeights& weights, Backend& backend)
    : TextModel(cfg, weights, LayerSplit{&backend, nullptr, -1}) {}

TextModel::TextModel(const TextConfig& cfg, const TextWeights& weights, const LayerSplit& split)
    : cfg_(cfg), kv_shape_(kv_cache_shape(cfg, weights)),
      inv_freq_(rope_inverse_frequencies(cfg.rope_theta, cfg.head_dim)),
      head_be_(split.on_device(cfg.num_hidden_layers) == cfg.num_hidden_layers ? *split.device : *split.host),
      head_placement_(head_be_), head_(head_placement_.place_head(weights)), final_rows_(head_be_),
      logits_(head_be_), embed_rows_(head_be_) {
  int first = 0;
  for (const KvLayerRange& r : split.kv_layers(cfg.num_hidden_layers)) {
    stages_.push_back(std::make_unique<TextStage>(cfg, weights, *r.backend, first, first + r.layers));
    first += r.layers;
  }
}

TextModel::TextModel(const ModelWeights& weights, Backend& backend)
    : TextModel(weights.config().text, weights.text(), backend) {}

TextModel::TextModel(const ModelWeights& weights, const LayerSplit& split)
    : TextModel(weights.config().text, weights.text(), split) {}

KvCacheShape kv_cache_shape(const TextConfig& cfg, const TextWeights& weights) {
  return KvCacheShape{cfg.num_hidden_layers, cfg.num_key_value_heads, cfg.head_dim,
                      kv_dtype_for_weights(weights.embed_tokens.dtype)};
}

std::vector<KvLayerRange> TextModel::kv_layers() const {
  std::vector<KvLayerRange> ranges;
  for (const auto& s : stages_) ranges.push_back({&s->backend(), s->end_layer() - s->first_layer()});
  return ranges;
}

size_t TextModel::device_weight_bytes() const {
  size_t bytes = head_placement_.uploaded_bytes();
  for (const auto& s : stages_) bytes += s->uploaded_bytes();
  return bytes;
}

void TextModel::check_ids(std::span<const int32_t> ids) const {
  for (int32_t id : ids)
    if (id < 0 || id >= cfg_.vocab_size)
      throw ModelError("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                       std::to_string(cfg_.vocab_size) + ")");
}

void TextModel::embed(std::span<const int32_t> ids, float* out) {
  check_ids(ids);
  if (head_be_.shares_host_memory()) {
    head_be_.embed(head_.embed_tokens, ids, out);
    return;
  }
  const size_t values = ids.size() * static_cast<size_t>(cfg_.hidden_size);
  embed_rows_.resize(values);
  head_be_.embed(head_.embed_tokens, ids, embed_rows_.data());
  head_be_.download(out, embed_rows_.data(), values * sizeof(float));
}

void TextModel::check(const ForwardBatch& batch, const KvStorage& kv, int64_t rows) const {
  if (static_cast<int64_t>(batch.positions.size()) != rows)
    throw ModelError("batch has " + std::to_string(rows) + " rows but " + std::to_string(batch.positions.size()) +
                     " positions");
  if (!batch.embeddings && static_cast<int64_t>(batch.ids.size()) != rows)
    throw ModelError("batch has " + std::to_string(rows) + " rows but " + std::to_string(batch.ids.size()) + " ids");
  if (batch.deepstack && static_cast<int>(batch.deepstack->per_layer.size()) > cfg_.num_hidden_layers)
    throw ModelError("more DeepStack feature sets than decoder layers");
  if (!batch.embeddings) check_ids(batch.ids);
  for (const auto& s : batch.steps) {
    const int64_t slots = static_cast<int64_t>(s.blocks.size()) * kv.block_size();
    if (s.first_slot < 0 || s.first_slot + s.n_tokens > slots)
      throw ModelError("a batch step's block table holds " + std::to_string(slots) + " slots, it needs " +
                       std::to_string(s.first_slot + s.n_tokens));
  }
  if (kv.shape().layers != cfg_.num_hidden_layers)
    throw ModelError("KV storage of " + std::to_string(kv.shape().layers) + " layers for a decoder of " +
                     std::to_string(cfg_.num_hidden_layers));
  for (const auto& s : stages_)
    for (const int l : {s->first_layer(), s->end_layer() - 1})
      if (&kv.backend_of(l) != &s->backend())
        throw ModelError("KV storage keeps layer " + std::to_string(l) + " on another backend than the runner "
                         "computes it on (make it with TextModel::kv_layers())");
}

void TextModel::input_rows(const ForwardBatch& batch, int64_t rows) {
  TextStage& first = *stages_.front();
  const auto bytes = sizeof(float) * static_cast<size_t>(rows * cfg_.hidden_size);
  if (batch.embeddings) {
    first.backend().upload(first.hidden(), batch.embeddings, bytes);
    return;
  }
  // The embedding lives with lm_head, in the last stage (llama.cpp, too, keeps its rows off the device).
  TextStage& last = *stages_.back();
  head_be_.embed(head_.embed_tokens, batch.ids, last.hidden());
  if (&last != &first) cross(last.backend(), last.hidden(), first.backend(), first.hidden(), bytes / sizeof(float));
}

void TextModel::cross(Backend& from, const float* src, Backend& to, float* dst, size_t floats) {
  const size_t bytes = floats * sizeof(float);
  if (&from == &to) {
    from.copy(dst, src, bytes);
  } else if (from.shares_host_memory()) {
    to.upload(dst, src, bytes);
  } else if (to.shares_host_memory()) {
    from.download(dst, src, bytes);
  } else {
    crossing_.resize(floats);
    from.download(crossing_.data(), src, bytes);
    to.upload(dst, crossing_.data(), bytes);
  }
}

int64_t leading_decode_rows(const ForwardBatch& batch) {
  const auto decode = std::find_if(batch.steps.begin(), batch.steps.end(), [](const SequenceStep& s) { return s.n_tokens != 1; });
  return decode - batch.steps.begin();
}

std::span<const float> TextModel::forward(const ForwardBatch& batch, KvStorage& kv) {
  int64_t rows = 0;
  for (const auto& s : batch.steps) {
    if (s.n_tokens <= 0) throw ModelError("a batch step must have at least one token");
    rows += s.n_tokens;
  }
  check(batch, kv, rows);

  for (const auto& s : stages_) s->reserve(rows);
  const auto table_values = static_cast<size_t>(rows * (cfg_.head_dim / 2));
  cos_host_.resize(table_values);
  sin_host_.resize(table_values);
  mrope_tables(cfg_, inv_freq_, batch.positions, cos_host_.data(), sin_host_.data());
  input_rows(batch, rows);

  const TextStage* previous = nullptr;
  for (const auto& stage : stages_) {
    if (previous)
      cross(previous->backend(), previous->hidden(), stage->backend(), stage->hidden(),
            static_cast<size_t>(rows * cfg_.hidden_size));
    stage->prepare(batch, cos_host_, sin_host_);
    for (int l = stage->first_layer(); l < stage->end_layer(); ++l) {
      stage->run_layer(l, rows, kv);
      if (batch.deepstack && l < static_cast<int>(batch.deepstack->per_layer.size())) stage->add_deepstack(*batch.deepstack, l);
    }
    previous = stage.get();
  }
  return logits(batch, stages_.back()->hidden());
}

std::span<const float> TextModel::logits(const ForwardBatch& batch, const float* hidden) {
  // Final norm and lm_head only for the rows whose logits are wanted.
  logit_rows_.clear();
  int64_t row = 0;
  for (const auto& s : batch.steps) {
    for (int64_t i = s.all_logits ? 0 : s.n_tokens - 1; i < s.n_tokens; ++i) logit_rows_.push_back(row + i);
    row += s.n_tokens;
  }
  const int64_t h = cfg_.hidden_size;
  const auto n_out = static_cast<int64_t>(logit_rows_.size());
  const auto values = static_cast<size_t>(n_out * cfg_.vocab_size);
  final_rows_.resize(static_cast<size_t>(n_out * h));
  logits_.resize(values);
  for (int64_t i = 0; i < n_out; ++i)
    head_be_.copy(final_rows_.data() + i * h, hidden + logit_rows_[static_cast<size_t>(i)] * h,
                  sizeof(float) * static_cast<size_t>(h));
  head_be_.rms_norm(final_rows_.data(), n_out, h, head_.final_norm, static_cast<float>(cfg_.rms_norm_eps),
                    final_rows_.data());
  const Backend::MatmulOutput lm_head[] = {{head_.lm_head, {}, logits_.data()}};
  head_be_.matmul_shared(final_rows_.data(), n_out, leading_decode_rows(batch), lm_head);
  if (head_be_.shares_host_memory()) return {logits_.data(), values};
  logits_host_.resize(values);
  head_be_.download(logits_host_.data(), logits_.data(), values * sizeof(float));
  return logits_host_;
}

}  // namespace pio
