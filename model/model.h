// A loaded Qwen3-VL model directory: config, mapped weights, the text decoder and, when the
// checkpoint has model.visual.* tensors, the vision tower.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "gpu/backend.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/packed_weights.h"
#include "model/text_model.h"
#include "model/vision_model.h"

namespace pio {

struct ModelOptions {
  WeightScheme weights = WeightScheme::Auto;
  // Where packed weights are cached (empty: packed in memory at every load).
  std::filesystem::path pack_cache_dir;
  // Keep the cached pack mapped (shared with other processes through the page cache), or read it
  // into private memory in huge pages (--no-mmap: batched decode runs faster from it where file
  // mappings get 4 KiB pages).
  bool map_pack = true;
};

class Model {
 public:
  // Throws ModelError when the directory, its config or its tensors are unusable.
  Model(const std::filesystem::path& dir, Backend& backend, const ModelOptions& options = {});

  const ModelConfig& config() const { return config_; }
  const Checkpoint& checkpoint() const { return checkpoint_; }
  TextModel& text() { return text_; }
  bool has_vision() const { return vision_ != nullptr; }
  // The vision tower; throws ModelError for a text-only checkpoint.
  VisionModel& vision();
  // Token ids that end generation (generation_config.json eos_token_id, else <|im_end|>, <|endoftext|>).
  const std::vector<int32_t>& stop_ids() const { return stop_ids_; }
  // The weights' scheme as asked and how the packed ones were obtained (PackedWeights::origin).
  WeightScheme weight_scheme() const { return scheme_; }
  const PackedWeights* packed_weights() const { return packed_.get(); }

 private:
  struct LoadedWeights {
    TextWeights text;
    std::unique_ptr<VisionWeights> vision;
  };
  static LoadedWeights load_weights(const ModelConfig& config, const Checkpoint& ckpt);
  // Packs the matrices the scheme asks for, rewriting the views in `w`.
  static std::unique_ptr<PackedWeights> pack(const std::filesystem::path& dir, const Checkpoint& ckpt,
                                             LoadedWeights& w, const ModelOptions& options);

  ModelConfig config_;
  Checkpoint checkpoint_;
  WeightScheme scheme_;
  LoadedWeights weights_;
  std::unique_ptr<PackedWeights> packed_;
  TextModel text_;
  std::unique_ptr<VisionModel> vision_;
  std::vector<int32_t> stop_ids_;
};

std::vector<int32_t> load_stop_ids(const std::filesystem::path& dir);

}  // namespace pio
