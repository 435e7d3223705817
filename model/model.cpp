#include "model/model.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "model/errors.h"

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
      has_vision_(config_.vision && checkpoint_.has_prefix("model.visual.")),
      stop_ids_(load_stop_ids(dir)) {}

}  // namespace pio
