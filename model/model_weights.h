// A loaded Qwen3-VL model directory's immutable part: config, mapped checkpoint, packed weights,
// the text decoder's and (when the checkpoint has model.visual.* tensors) the vision tower's
// weight views, and the stop ids. Nothing in it changes after load, so one object serves any
// number of runners (TextModel, VisionModel: the per-engine-group state and its backend) at once,
// as llama.cpp keeps llama_model apart from llama_context. Not copyable or movable: runners
// refer into it, so it must outlive them.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "gpu/backend.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/packed_weights.h"
#include "model/text_weights.h"
#include "model/vision_weights.h"

namespace pio {

struct ModelOptions {
  WeightScheme weights = WeightScheme::Auto;
  // Where packed weights are cached (empty: packed in memory at every load).
  std::filesystem::path pack_cache_dir;
  // Keep the cached pack mapped (shared with other processes through the page cache), or read it
  // into private memory in huge pages (--no-mmap: batched decode runs faster from it where file
  // mappings get 4 KiB pages).
  bool map_pack = true;
  // Pack bf16 matrices into the CPU's column panels (WeightFormat::BF16Packed). Off for a
  // device backend, whose kernels read bf16 (and the vision tower under q8/q4) as stored.
  bool bf16_panels = true;
};

// The options for runners on `backend`: bf16_panels off where it does not share host memory
// (a device's kernels read bf16 as stored, not in the CPU's panels).
ModelOptions options_for(ModelOptions options, const Backend& backend);

class ModelWeights {
 public:
  // Maps and checks the directory's tensors and packs the matrices the scheme asks for. Throws
  // ModelError when the directory, its config or its tensors are unusable.
  explicit ModelWeights(const std::filesystem::path& dir, const ModelOptions& options = {});
  ModelWeights(const ModelWeights&) = delete;
  ModelWeights& operator=(const ModelWeights&) = delete;

  const ModelConfig& config() const { return config_; }
  const Checkpoint& checkpoint() const { return checkpoint_; }
  const TextWeights& text() const { return weights_.text; }
  bool has_vision() const { return weights_.vision != nullptr; }
  // The vision tower's weights; throws ModelError for a text-only checkpoint.
  const VisionWeights& vision() const;
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
  std::vector<int32_t> stop_ids_;
};

std::vector<int32_t> load_stop_ids(const std::filesystem::path& dir);

}  // namespace pio
