#include "model/text_weights.h"

#include "model/errors.h"

namespace pio {

TextWeights load_text_weights(const Checkpoint& ckpt, const TextConfig& c) {
  const std::string p = "model.language_model.";
  const int64_t h = c.hidden_size, q_dim = int64_t{c.num_attention_heads} * c.head_dim,
                kv_dim = int64_t{c.num_key_value_heads} * c.head_dim, inter = c.intermediate_size;
  TextWeights w;
  w.embed_tokens = ckpt.weight(p + "embed_tokens.weight", {c.vocab_size, h});
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string l = p + "layers." + std::to_string(i) + ".";
    TextLayerWeights lw;
    lw.input_norm = ckpt.weight(l + "input_layernorm.weight", {h});
    lw.q_proj = ckpt.weight(l + "self_attn.q_proj.weight", {q_dim, h});
    lw.k_proj = ckpt.weight(l + "self_attn.k_proj.weight", {kv_dim, h});
    lw.v_proj = ckpt.weight(l + "self_attn.v_proj.weight", {kv_dim, h});
    lw.o_proj = ckpt.weight(l + "self_attn.o_proj.weight", {h, q_dim});
    lw.q_norm = ckpt.weight(l + "self_attn.q_norm.weight", {c.head_dim});
    lw.k_norm = ckpt.weight(l + "self_attn.k_norm.weight", {c.head_dim});
    lw.post_attention_norm = ckpt.weight(l + "post_attention_layernorm.weight", {h});
    lw.gate_proj = ckpt.weight(l + "mlp.gate_proj.weight", {inter, h});
    lw.up_proj = ckpt.weight(l + "mlp.up_proj.weight", {inter, h});
    lw.down_proj = ckpt.weight(l + "mlp.down_proj.weight", {h, inter});
    w.layers.push_back(lw);
  }
  if (ckpt.find(p + "layers." + std::to_string(c.num_hidden_layers) + ".input_layernorm.weight"))
    throw ModelError(ckpt.dir().string() + ": checkpoint has more decoder layers than num_hidden_layers = " +
                     std::to_string(c.num_hidden_layers));
  w.final_norm = ckpt.weight(p + "norm.weight", {h});
  // Tied as HF ties: the embedding serves as the head even if a stray lm_head.weight is stored.
  if (c.tie_word_embeddings) {
    w.lm_head = w.embed_tokens;
  } else if (ckpt.find("lm_head.weight")) {
    w.lm_head = ckpt.weight("lm_head.weight", {c.vocab_size, h});
  } else {
    throw ModelError(ckpt.dir().string() + ": tie_word_embeddings is false but the checkpoint has no lm_head.weight");
  }
  return w;
}

}  // namespace pio
