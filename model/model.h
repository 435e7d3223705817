// A loaded Qwen3-VL model directory: its weights (ModelWeights) with a text decoder and, when
// the checkpoint has model.visual.* tensors, a vision tower running on one backend.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "gpu/backend.h"
#include "model/model_weights.h"
#include "model/text_model.h"
#include "model/vision_model.h"

namespace pio {

class Model {
 public:
  // Throws ModelError when the directory, its config or its tensors are unusable.
  Model(const std::filesystem::path& dir, Backend& backend, const ModelOptions& options = {});

  const ModelConfig& config() const { return weights_.config(); }
  const Checkpoint& checkpoint() const { return weights_.checkpoint(); }
  TextModel& text() { return text_; }
  bool has_vision() const { return vision_ != nullptr; }
  // The vision tower; throws ModelError for a text-only checkpoint.
  VisionModel& vision();
  const std::vector<int32_t>& stop_ids() const { return weights_.stop_ids(); }
  WeightScheme weight_scheme() const { return weights_.weight_scheme(); }
  const PackedWeights* packed_weights() const { return weights_.packed_weights(); }

 private:
  ModelWeights weights_;
  TextModel text_;
  std::unique_ptr<VisionModel> vision_;
};

}  // namespace pio
