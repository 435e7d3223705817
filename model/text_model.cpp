#include "model/text_model.h"

#include <cmath>
#include <cstring>
#include <string>

#include "model/errors.h"

namespace pio {

TextModel::TextModel(const TextConfig& cfg, TextWeights weights, Backend& backend)
    : cfg_(cfg), w_(std::move(weights)), be_(backend),
      inv_freq_(rope_inverse_frequencies(cfg.rope_theta, cfg.head_dim)) {}

KvCacheShape TextModel::kv_shape() const {
  return KvCacheShape{cfg_.num_hidden_layers, cfg_.num_key_value_heads, cfg_.head_dim,
                      kv_dtype_for_weights(w_.embed_tokens.dtype)};
}

void TextModel::embed(std::span<const int32_t> ids, float* out) {
  for (int32_t id : ids)
    if (id < 0 || id >= cfg_.vocab_size)
      throw ModelError("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                       std::to_string(cfg_.vocab_size) + ")");
  be_.embed(w_.embed_tokens, ids, out);
}

void TextModel::reserve(int64_t rows) {
  if (rows <= capacity_) return;
  const auto n = [rows](int64_t width) { return static_cast<size_t>(rows * width); };
  const int64_t h = cfg_.hidden_size, qd = int64_t{cfg_.num_attention_heads} * cfg_.head_dim,
                kvd = int64_t{cfg_.num_key_value_heads} * cfg_.head_dim;
  x_.resize(n(h));
  xn_.resize(n(h));
  q_.resize(n(qd));
  attn_.resize(n(qd));
  k_.resize(n(kvd));
  v_.resize(n(kvd));
  gate_.resize(n(cfg_.intermediate_size));
  up_.resize(n(cfg_.intermediate_size));
  cos_.resize(n(cfg_.head_dim / 2));
  sin_.resize(n(cfg_.head_dim / 2));
  capacity_ = rows;
}

std::span<const float> TextModel::forward(const ForwardBatch& batch, KvStorage& kv) {
  int64_t rows = 0;
  for (const auto& s : batch.steps) {
    if (s.n_tokens <= 0) throw ModelError("a batch step must have at least one token");
    rows += s.n_tokens;
  }
  if (static_cast<int64_t>(batch.positions.size()) != rows)
    throw ModelError("batch has " + std::to_string(rows) + " rows but " + std::to_string(batch.positions.size()) +
                     " positions");
  if (!batch.embeddings && static_cast<int64_t>(batch.ids.size()) != rows)
    throw ModelError("batch has " + std::to_string(rows) + " rows but " + std::to_string(batch.ids.size()) + " ids");
  if (batch.deepstack && static_cast<int>(batch.deepstack->per_layer.size()) > cfg_.num_hidden_layers)
    throw ModelError("more DeepStack feature sets than decoder layers");

  for (const auto& s : batch.steps) {
    const int64_t slots = static_cast<int64_t>(s.blocks.size()) * kv.block_size();
    if (s.first_slot < 0 || s.first_slot + s.n_tokens > slots)
      throw ModelError("a batch step's block table holds " + std::to_string(slots) + " slots, it needs " +
                       std::to_string(s.first_slot + s.n_tokens));
  }
  attn_seqs_.clear();
  first_slots_.clear();
  int64_t row = 0;
  for (const auto& s : batch.steps) {
    first_slots_.push_back(s.first_slot);
    attn_seqs_.push_back(AttentionSequence{s.blocks.data(), row, s.n_tokens, s.first_slot});
    row += s.n_tokens;
  }

  reserve(rows);
  const int64_t h = cfg_.hidden_size;
  if (batch.embeddings) std::memcpy(x_.data(), batch.embeddings, sizeof(float) * static_cast<size_t>(rows * h));
  else embed(batch.ids, x_.data());
  mrope_tables(cfg_, inv_freq_, batch.positions, cos_.data(), sin_.data());

  for (int l = 0; l < cfg_.num_hidden_layers; ++l) {
    decoder_layer(l, rows, kv, attn_seqs_);
    if (batch.deepstack && l < static_cast<int>(batch.deepstack->per_layer.size())) {
      const auto& ds = *batch.deepstack;
      for (size_t i = 0; i < ds.rows.size(); ++i)
        be_.add(x_.data() + ds.rows[i] * h, ds.per_layer[static_cast<size_t>(l)] + static_cast<int64_t>(i) * h, h);
    }
  }

  // Final norm and lm_head only for the rows whose logits are wanted.
  logit_rows_.clear();
  row = 0;
  for (const auto& s : batch.steps) {
    for (int64_t i = s.all_logits ? 0 : s.n_tokens - 1; i < s.n_tokens; ++i) logit_rows_.push_back(row + i);
    row += s.n_tokens;
  }
  const auto n_out = static_cast<int64_t>(logit_rows_.size());
  if (final_rows_.size() < static_cast<size_t>(n_out * h)) final_rows_.resize(static_cast<size_t>(n_out * h));
  if (logits_.size() < static_cast<size_t>(n_out * cfg_.vocab_size))
    logits_.resize(static_cast<size_t>(n_out * cfg_.vocab_size));
  for (int64_t i = 0; i < n_out; ++i)
    std::memcpy(final_rows_.data() + i * h, x_.data() + logit_rows_[static_cast<size_t>(i)] * h,
                sizeof(float) * static_cast<size_t>(h));
  be_.rms_norm(final_rows_.data(), n_out, h, w_.final_norm, static_cast<float>(cfg_.rms_norm_eps),
               final_rows_.data());
  be_.matmul(final_rows_.data(), n_out, w_.lm_head, WeightView{}, logits_.data());
  return {logits_.data(), static_cast<size_t>(n_out * cfg_.vocab_size)};
}

void TextModel::decoder_layer(int l, int64_t rows, KvStorage& kv_storage, std::span<const AttentionSequence> seqs) {
  const TextLayerWeights& w = w_.layers[static_cast<size_t>(l)];
  const int64_t h = cfg_.hidden_size;
  const int nh = cfg_.num_attention_heads, nkv = cfg_.num_key_value_heads, hd = cfg_.head_dim;
  const auto eps = static_cast<float>(cfg_.rms_norm_eps);

  // Attention block.
  be_.rms_norm(x_.data(), rows, h, w.input_norm, eps, xn_.data());
  be_.matmul(xn_.data(), rows, w.q_proj, {}, q_.data());
  be_.matmul(xn_.data(), rows, w.k_proj, {}, k_.data());
  be_.matmul(xn_.data(), rows, w.v_proj, {}, v_.data());
  be_.rms_norm(q_.data(), rows * nh, hd, w.q_norm, eps, q_.data());
  be_.rms_norm(k_.data(), rows * nkv, hd, w.k_norm, eps, k_.data());
  be_.rotary(q_.data(), rows, int64_t{nh} * hd, nh, hd, cos_.data(), sin_.data());
  be_.rotary(k_.data(), rows, int64_t{nkv} * hd, nkv, hd, cos_.data(), sin_.data());
  const PagedKvLayer kv = kv_storage.layer(l);
  for (size_t s = 0; s < seqs.size(); ++s)
    be_.store_kv(kv, seqs[s].block_table, first_slots_[s], seqs[s].n_queries,
                 k_.data() + seqs[s].q_begin * nkv * hd, v_.data() + seqs[s].q_begin * nkv * hd);
  be_.paged_attention(q_.data(), nh, kv, seqs, 1.0f / std::sqrt(static_cast<float>(hd)), attn_.data());
  be_.matmul(attn_.data(), rows, w.o_proj, {}, xn_.data());
  be_.add(x_.data(), xn_.data(), rows * h);

  // MLP block.
  be_.rms_norm(x_.data(), rows, h, w.post_attention_norm, eps, xn_.data());
  be_.matmul(xn_.data(), rows, w.gate_proj, {}, gate_.data());
  be_.matmul(xn_.data(), rows, w.up_proj, {}, up_.data());
  be_.silu_mul(gate_.data(), up_.data(), rows * cfg_.intermediate_size);
  be_.matmul(gate_.data(), rows, w.down_proj, {}, xn_.data());
  be_.add(x_.data(), xn_.data(), rows * h);
}

}  // namespace pio
