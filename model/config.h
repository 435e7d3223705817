// config.json of a Qwen3-VL checkpoint, with the Hugging Face field names. Every size comes
// from here; nothing assumes the 2B shapes.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace pio {

struct TextConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;
  int head_dim = 0;  // need not equal hidden_size / num_attention_heads
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  // Rotary slots per axis (t, h, w), summing to head_dim / 2. Interleaved as Qwen3-VL does.
  std::array<int, 3> mrope_section{0, 0, 0};
  bool tie_word_embeddings = true;
  int64_t max_position_embeddings = 0;
  std::string dtype = "bfloat16";
};

struct VisionConfig {
  int depth = 0;
  int64_t hidden_size = 0;
  int num_heads = 0;
  int64_t intermediate_size = 0;
  int in_channels = 3;
  int patch_size = 0;
  int temporal_patch_size = 0;
  int spatial_merge_size = 0;
  int64_t out_hidden_size = 0;
  int64_t num_position_embeddings = 0;
  std::vector<int> deepstack_visual_indexes;
  std::string hidden_act = "gelu_pytorch_tanh";
};

struct ModelConfig {
  TextConfig text;
  std::optional<VisionConfig> vision;
  int32_t image_token_id = 151655;
  int32_t video_token_id = 151656;
  int32_t vision_start_token_id = 151652;
  int32_t vision_end_token_id = 151653;
  std::string model_type = "qwen3_vl";
};

// Parses and checks every field: exact JSON types, each size and count within model/limits.h
// (so no later product overflows), the parameter count the shapes imply at most 2^40, finite
// positive rms_norm_eps and rope_theta, plain (default) rotary only, and, with a vision tower,
// the special token ids inside the vocabulary. Throws ModelError naming the file, the field
// and its allowed range. Field names and defaults follow transformers' Qwen3VLConfig.
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& source);
ModelConfig load_model_config(const std::filesystem::path& model_dir);
// The genuine Hugging Face config.json layout (text_config + vision_config).
nlohmann::json to_hf_json(const ModelConfig& c);

}  // namespace pio
