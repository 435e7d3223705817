#include "model/weight_placement.h"

#include <cstdint>
#include <vector>

#include "gpu/cpu/weight_packing.h"
#include "gpu/kernel_math.h"

namespace pio {

size_t weight_bytes(const WeightView& w) {
  if (w.format != WeightFormat::Plain) return static_cast<size_t>(cpu::packed_weight_bytes(w.format, w.rows, w.cols));
  return static_cast<size_t>(w.rows * w.cols) * dtype_size(w.dtype);
}

WeightView WeightPlacement::place(const WeightView& w) {
  if (w.data == nullptr || (backend_ && backend_->shares_host_memory())) return w;
  const size_t bytes = weight_bytes(w);
  if (backend_ == nullptr) {
    uploaded_bytes_ += bytes;
    return w;
  }
  BackendBuffer& buffer = buffers_.emplace_back(*backend_, bytes);
  backend_->upload(buffer.data(), w.data, bytes);
  uploaded_bytes_ += bytes;
  WeightView placed = w;
  placed.data = buffer.data();
  return placed;
}

WeightView WeightPlacement::place_bias(const WeightView& bias) {
  if (bias.data == nullptr || bias.dtype == DType::F32 || (backend_ && backend_->shares_host_memory()))
    return place(bias);
  if (backend_ == nullptr) {
    uploaded_bytes_ += static_cast<size_t>(bias.rows * bias.cols) * sizeof(float);
    return bias;
  }
  std::vector<float> values(static_cast<size_t>(bias.rows * bias.cols));
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t bits = static_cast<const uint16_t*>(bias.data)[i];
    values[i] = bias.dtype == DType::BF16 ? math::bf16_to_f32(bits) : math::f16_to_f32(bits);
  }
  return place(WeightView{DType::F32, values.data(), bias.rows, bias.cols, WeightFormat::Plain});
}

TextLayerWeights WeightPlacement::place(const TextLayerWeights& l) {
  return {place(l.input_norm),          place(l.q_proj),    place(l.k_proj),  place(l.v_proj),
          place(l.o_proj),              place(l.q_norm),    place(l.k_norm),  place(l.post_attention_norm),
          place(l.gate_proj),           place(l.up_proj),   place(l.down_proj)};
}

TextWeights WeightPlacement::place_head(const TextWeights& w) {
  TextWeights out{place(w.embed_tokens), {}, place(w.final_norm), {}};
  // A tied lm_head reads the embedding's copy instead of uploading the same bytes twice.
  out.lm_head = w.lm_head.data == w.embed_tokens.data && w.lm_head.format == w.embed_tokens.format
                    ? out.embed_tokens
                    : place(w.lm_head);
  return out;
}

VisionWeights WeightPlacement::place(const VisionWeights& w) {
  const auto merger = [this](const VisionMergerWeights& m) {
    return VisionMergerWeights{place(m.norm_weight), place(m.norm_bias),       place(m.fc1_weight),
                               place_bias(m.fc1_bias), place(m.fc2_weight), place_bias(m.fc2_bias)};
  };
  VisionWeights out{place(w.patch_weight), place_bias(w.patch_bias), place(w.pos_embed), {}, merger(w.merger), {}};
  for (const VisionBlockWeights& b : w.blocks)
    out.blocks.push_back({place(b.norm1_weight), place(b.norm1_bias), place(b.qkv_weight), place_bias(b.qkv_bias),
                          place(b.proj_weight), place_bias(b.proj_bias), place(b.norm2_weight), place(b.norm2_bias),
                          place(b.fc1_weight), place_bias(b.fc1_bias), place(b.fc2_weight), place_bias(b.fc2_bias)});
  for (const VisionMergerWeights& m : w.deepstack) out.deepstack.push_back(merger(m));
  return out;
}

}  // namespace pio
