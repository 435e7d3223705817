#include "model/image/preprocessor_config.h"

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "model/errors.h"

namespace pio {
namespace {

void read_triplet(const nlohmann::json& j, const char* key, std::array<double, 3>& out) {
  if (!j.contains(key)) return;
  const auto& v = j.at(key);
  if (!v.is_array() || v.size() != 3) {
    throw ModelError(std::string("preprocessor_config.json: '") + key + "' must be 3 numbers");
  }
  for (size_t i = 0; i < 3; ++i) out[i] = v[i].get<double>();
}

}  // namespace

PreprocessorConfig parse_preprocessor_config(const nlohmann::json& j) {
  PreprocessorConfig c;
  try {
    if (j.contains("size")) {
      const auto& size = j.at("size");
      c.min_pixels = size.value("shortest_edge", c.min_pixels);
      c.max_pixels = size.value("longest_edge", c.max_pixels);
    }
    // Older Qwen2-VL files spell the budget as top-level min/max_pixels, which take precedence.
    c.min_pixels = j.value("min_pixels", c.min_pixels);
    c.max_pixels = j.value("max_pixels", c.max_pixels);
    c.patch_size = j.value("patch_size", c.patch_size);
    c.temporal_patch_size = j.value("temporal_patch_size", c.temporal_patch_size);
    c.merge_size = j.value("merge_size", c.merge_size);
    c.rescale_factor = j.value("rescale_factor", c.rescale_factor);
    read_triplet(j, "image_mean", c.image_mean);
    read_triplet(j, "image_std", c.image_std);
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(std::string("preprocessor_config.json: ") + e.what());
  }
  if (c.patch_size <= 0 || c.temporal_patch_size <= 0 || c.merge_size <= 0 ||
      c.min_pixels < 0 || c.max_pixels <= 0 || c.rescale_factor <= 0) {
    throw ModelError("preprocessor_config.json: sizes and pixel budgets must be positive");
  }
  for (double s : c.image_std) {
    if (s == 0) throw ModelError("preprocessor_config.json: image_std must not be 0");
  }
  return c;
}

PreprocessorConfig load_preprocessor_config(const std::filesystem::path& model_dir) {
  const auto path = model_dir / "preprocessor_config.json";
  std::ifstream in(path);
  if (!in) throw ModelError("cannot open " + path.string());
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(path.string() + ": invalid JSON: " + e.what());
  }
  return parse_preprocessor_config(j);
}

}  // namespace pio
