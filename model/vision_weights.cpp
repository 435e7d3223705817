#include "model/vision_weights.h"

#include <cmath>

#include "model/errors.h"

namespace pio {
namespace {

void check_supported(const Checkpoint& ckpt, const VisionConfig& c) {
  const std::string where = ckpt.dir().string() + ": vision_config";
  if (c.hidden_act != "gelu_pytorch_tanh")
    throw ModelError(where + ".hidden_act '" + c.hidden_act + "' is not supported (gelu_pytorch_tanh only)");
  // The 2D rotary splits head_dim / 2 rotary slots evenly between rows and columns.
  if ((c.hidden_size / c.num_heads) % 4)
    throw ModelError(where + ": the vision head dim (hidden_size / num_heads) must be a multiple of 4");
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(c.num_position_embeddings))));
  if (side * side != c.num_position_embeddings)
    throw ModelError(where + ".num_position_embeddings = " + std::to_string(c.num_position_embeddings) +
                     " is not a square grid");
}

VisionMergerWeights load_merger(const Checkpoint& ckpt, const std::string& p, int64_t norm_dim, int64_t merged,
                                int64_t out) {
  VisionMergerWeights m;
  m.norm_weight = ckpt.weight(p + "norm.weight", {norm_dim});
  m.norm_bias = ckpt.weight(p + "norm.bias", {norm_dim});
  m.fc1_weight = ckpt.weight(p + "linear_fc1.weight", {merged, merged});
  m.fc1_bias = ckpt.weight(p + "linear_fc1.bias", {merged});
  m.fc2_weight = ckpt.weight(p + "linear_fc2.weight", {out, merged});
  m.fc2_bias = ckpt.weight(p + "linear_fc2.bias", {out});
  return m;
}

}  // namespace

VisionWeights load_vision_weights(const Checkpoint& ckpt, const VisionConfig& c) {
  const std::string p = "model.visual.";
  if (!ckpt.has_prefix(p))
    throw ModelError(ckpt.dir().string() + ": checkpoint has no vision tower (no model.visual.* tensors); "
                     "it cannot encode images");
  check_supported(ckpt, c);
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  const int64_t merged = h * c.spatial_merge_size * c.spatial_merge_size;
  VisionWeights w;
  // The Conv3d kernel equals stride, so it is one matmul over the flattened (C, T, kh, kw) patch.
  w.patch_weight = ckpt.weight(p + "patch_embed.proj.weight",
                               {h, c.in_channels, c.temporal_patch_size, c.patch_size, c.patch_size});
  w.patch_weight.rows = h;
  w.patch_weight.cols = int64_t{c.in_channels} * c.temporal_patch_size * c.patch_size * c.patch_size;
  w.patch_bias = ckpt.weight(p + "patch_embed.proj.bias", {h});
  w.pos_embed = ckpt.weight(p + "pos_embed.weight", {c.num_position_embeddings, h});
  for (int j = 0; j < c.depth; ++j) {
    const std::string b = p + "blocks." + std::to_string(j) + ".";
    VisionBlockWeights bw;
    bw.norm1_weight = ckpt.weight(b + "norm1.weight", {h});
    bw.norm1_bias = ckpt.weight(b + "norm1.bias", {h});
    bw.qkv_weight = ckpt.weight(b + "attn.qkv.weight", {3 * h, h});
    bw.qkv_bias = ckpt.weight(b + "attn.qkv.bias", {3 * h});
    bw.proj_weight = ckpt.weight(b + "attn.proj.weight", {h, h});
    bw.proj_bias = ckpt.weight(b + "attn.proj.bias", {h});
    bw.norm2_weight = ckpt.weight(b + "norm2.weight", {h});
    bw.norm2_bias = ckpt.weight(b + "norm2.bias", {h});
    bw.fc1_weight = ckpt.weight(b + "mlp.linear_fc1.weight", {inter, h});
    bw.fc1_bias = ckpt.weight(b + "mlp.linear_fc1.bias", {inter});
    bw.fc2_weight = ckpt.weight(b + "mlp.linear_fc2.weight", {h, inter});
    bw.fc2_bias = ckpt.weight(b + "mlp.linear_fc2.bias", {h});
    w.blocks.push_back(bw);
  }
  if (ckpt.find(p + "blocks." + std::to_string(c.depth) + ".norm1.weight"))
    throw ModelError(ckpt.dir().string() + ": checkpoint has more vision blocks than depth = " +
                     std::to_string(c.depth));
  w.merger = load_merger(ckpt, p + "merger.", h, merged, c.out_hidden_size);
  for (size_t k = 0; k < c.deepstack_visual_indexes.size(); ++k)
    w.deepstack.push_back(
        load_merger(ckpt, p + "deepstack_merger_list." + std::to_string(k) + ".", merged, merged, c.out_hidden_size));
  return w;
}

}  // namespace pio
