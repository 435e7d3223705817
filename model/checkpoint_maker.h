// `pio make-checkpoint`: random Qwen3-VL checkpoints in the genuine Hugging Face layout and
// tensor names, reproducible from a seed. `tiny` has every structural feature at toy sizes;
// `2b` has exactly Qwen3-VL-2B-Instruct's shapes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gpu/dtype.h"
#include "model/config.h"
#include "model/safetensors_writer.h"

namespace pio {

// Throws ModelError for an unknown preset name.
ModelConfig preset_config(const std::string& preset);

// Every tensor of the model (text and vision) with its HF name and shape.
std::vector<TensorSpec> checkpoint_tensors(const ModelConfig& cfg, DType dtype);

struct CheckpointRequest {
  std::string preset = "tiny";
  uint64_t seed = 0;
  std::filesystem::path out;
  std::optional<DType> dtype;               // the preset's own when unset
  std::filesystem::path tokenizer_source;   // holds tokenizer.json + tokenizer_config.json; empty: none
  uint64_t max_shard_bytes = 2ull << 30;
  bool text_only = false;                   // leave out the model.visual.* tensors
};

// Writes the preset's random checkpoint (and the tokenizer's files) to req.out. Throws ModelError
// for an unknown preset, or for a tokenizer source without its files before writing anything.
void make_checkpoint(const CheckpointRequest& req);

// Weights (dtype from cfg.text.dtype), config.json, generation_config.json and
// preprocessor_config.json for any configuration: presets and the tests' odd shapes alike.
void write_random_checkpoint(const ModelConfig& cfg, uint64_t seed, const std::filesystem::path& out,
                             uint64_t max_shard_bytes = 2ull << 30);

}  // namespace pio
