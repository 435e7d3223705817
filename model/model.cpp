#include "model/model.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "model/errors.h"
#include "model/vision_weights.h"

namespace pio {

std::vector<int32_t> load_stop_ids(const std::filesystem::path& dir) {
  std::ifstream in(dir / "generation_config.json");
  if (in) {
    const auto j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_discarded() && j.contains("eos_token_id")) {
      const auto& e = j["eos_token_id"];
      if (e.is_number_integer()) return {e.get<int32_t>()};
      if (e.is_array()) return e.get<std::vector<int32_t>>();
    }
  }
  return {151645, 151643};
}

Model::Model(const std::filesystem::path& dir, Backend& backend)
    : config_(load_model_config(dir)),
      checkpoint_(dir),
      text_(config_.text, load_text_weights(checkpoint_, config_.text), backend),
      stop_ids_(load_stop_ids(dir)) {
  if (config_.vision && checkpoint_.has_prefix("model.visual."))
    vision_ = std::make_unique<VisionModel>(*config_.vision, load_vision_weights(checkpoint_, *config_.vision), backend);
}

VisionModel& Model::vision() {
  if (!vision_)
    throw ModelError(checkpoint_.dir().string() +
                     " is a text-only checkpoint (no model.visual.* tensors): it cannot read images; "
                     "pass precomputed --image-embeds instead");
  return *vision_;
}

}  // namespace pio
