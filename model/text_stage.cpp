#include "model/text_stage.h"

#include <algorithm>
#include <cmath>

#include "model/text_model.h"

namespace pio {

TextStage::TextStage(const TextConfig& cfg, const TextWeights& weights, Backend& backend, int first_layer,
                     int end_layer)
    : cfg_(cfg), be_(backend), first_(first_layer), end_(end_layer), placement_(backend), x_(backend),
      xn_(backend), q_(backend), k_(backend), v_(backend), attn_(backend), gate_(backend), up_(backend),
      cos_(backend), sin_(backend), deepstack_(backend), block_tables_(backend) {
  for (int l = first_layer; l < end_layer; ++l) layers_.push_back(placement_.place(weights.layers[static_cast<size_t>(l)]));
}

void TextStage::reserve(int64_t rows) {
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

void TextStage::prepare(const ForwardBatch& batch, std::span<const float> cos, std::span<const float> sin) {
  block_tables_host_.clear();
  for (const auto& s : batch.steps) block_tables_host_.insert(block_tables_host_.end(), s.blocks.begin(), s.blocks.end());
  block_tables_.resize(std::max<size_t>(1, block_tables_host_.size()));
  be_.upload(block_tables_.data(), block_tables_host_.data(), block_tables_host_.size() * sizeof(int32_t));
  decode_rows_ = leading_decode_rows(batch);
  seqs_.clear();
  first_slots_.clear();
  int64_t row = 0;
  const int32_t* table = block_tables_.data();
  for (const auto& s : batch.steps) {
    first_slots_.push_back(s.first_slot);
    seqs_.push_back(AttentionSequence{table, row, s.n_tokens, s.first_slot});
    table += s.blocks.size();
    row += s.n_tokens;
  }
  be_.upload(cos_.data(), cos.data(), cos.size_bytes());
  be_.upload(sin_.data(), sin.data(), sin.size_bytes());
}

void TextStage::add_deepstack(const DeepstackInput& ds, int layer) {
  const int64_t h = cfg_.hidden_size;
  const size_t values = ds.rows.size() * static_cast<size_t>(h);
  deepstack_.resize(values);
  be_.upload(deepstack_.data(), ds.per_layer[static_cast<size_t>(layer)], values * sizeof(float));
  for (size_t i = 0; i < ds.rows.size(); ++i)
    be_.add(x_.data() + ds.rows[i] * h, deepstack_.data() + static_cast<int64_t>(i) * h, h);
}

void TextStage::run_layer(int l, int64_t rows, KvStorage& kv_storage) {
  const TextLayerWeights& w = layers_[static_cast<size_t>(l - first_)];
  const int64_t h = cfg_.hidden_size;
  const int nh = cfg_.num_attention_heads, nkv = cfg_.num_key_value_heads, hd = cfg_.head_dim;
  const auto eps = static_cast<float>(cfg_.rms_norm_eps);

  // Attention block.
  be_.rms_norm(x_.data(), rows, h, w.input_norm, eps, xn_.data());
  const Backend::MatmulOutput qkv[] = {{w.q_proj, {}, q_.data()}, {w.k_proj, {}, k_.data()}, {w.v_proj, {}, v_.data()}};
  be_.matmul_shared(xn_.data(), rows, decode_rows_, qkv);
  be_.rms_norm(q_.data(), rows * nh, hd, w.q_norm, eps, q_.data());
  be_.rms_norm(k_.data(), rows * nkv, hd, w.k_norm, eps, k_.data());
  be_.rotary(q_.data(), rows, int64_t{nh} * hd, nh, hd, cos_.data(), sin_.data());
  be_.rotary(k_.data(), rows, int64_t{nkv} * hd, nkv, hd, cos_.data(), sin_.data());
  const PagedKvLayer kv = kv_storage.layer(l);
  for (size_t s = 0; s < seqs_.size(); ++s)
    be_.store_kv(kv, seqs_[s].block_table, first_slots_[s], seqs_[s].n_queries,
                 k_.data() + seqs_[s].q_begin * nkv * hd, v_.data() + seqs_[s].q_begin * nkv * hd);
  be_.paged_attention(q_.data(), nh, kv, seqs_, 1.0f / std::sqrt(static_cast<float>(hd)), attn_.data());
  const Backend::MatmulOutput o_proj[] = {{w.o_proj, {}, xn_.data()}};
  be_.matmul_shared(attn_.data(), rows, decode_rows_, o_proj);
  be_.add(x_.data(), xn_.data(), rows * h);

  // MLP block.
  be_.rms_norm(x_.data(), rows, h, w.post_attention_norm, eps, xn_.data());
  const Backend::MatmulOutput gate_up[] = {{w.gate_proj, {}, gate_.data()}, {w.up_proj, {}, up_.data()}};
  be_.matmul_shared(xn_.data(), rows, decode_rows_, gate_up);
  be_.silu_mul(gate_.data(), up_.data(), rows * cfg_.intermediate_size);
  const Backend::MatmulOutput down_proj[] = {{w.down_proj, {}, xn_.data()}};
  be_.matmul_shared(gate_.data(), rows, decode_rows_, down_proj);
  be_.add(x_.data(), xn_.data(), rows * h);
}

}  // namespace pio
