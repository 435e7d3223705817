#include "model/image/preprocessor_config.h"

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "model/errors.h"
#include "model/json_fields.h"
#include "model/limits.h"

namespace pio {
namespace {

using nlohmann::json;
using json_fields::integer_in;
using json_fields::number_in;

const std::string kFile = "preprocessor_config.json";

std::string name(const std::string& key) { return kFile + ": " + key; }

// image_mean / image_std: three numbers, or one for all channels as transformers accepts.
void read_triplet(const json& j, const char* key, double lo, double hi, std::array<double, 3>& out) {
  if (!j.contains(key) || j[key].is_null()) return;
  const json& v = j[key];
  if (v.is_number()) {
    out.fill(number_in(v, name(key), lo, hi));
    return;
  }
  if (!v.is_array() || v.size() != 3) throw ModelError(name(key) + " must be 3 numbers (or one), got " + v.dump());
  for (size_t i = 0; i < 3; ++i) out[i] = number_in(v[i], name(key) + "[" + std::to_string(i) + "]", lo, hi);
}

int64_t pixel_budget(const json& v, const std::string& key) {
  return integer_in(v, name(key), 1, limits::kMaxPixelBudget);
}

// The steps pio always runs: a file that turns one off, or asks for another resampling filter,
// would be silently processed differently from transformers, so it is refused.
void require_pio_steps(const json& j) {
  for (const char* step : {"do_resize", "do_rescale", "do_normalize", "do_convert_rgb"}) {
    if (!j.contains(step) || j[step].is_null()) continue;
    if (!j[step].is_boolean()) throw ModelError(name(step) + " must be true or false, got " + j[step].dump());
    if (!j[step].get<bool>()) throw ModelError(name(step) + " = false is not supported (pio always runs this step)");
  }
  constexpr int64_t kBicubic = 3;  // PIL.Image.Resampling.BICUBIC, the Qwen2-VL processor's default
  if (j.contains("resample") && !j["resample"].is_null() && integer_in(j["resample"], name("resample"), 0, 5) != kBicubic)
    throw ModelError(name("resample") + " = " + j["resample"].dump() + " is not supported (3, bicubic, only)");
}

}  // namespace

PreprocessorConfig parse_preprocessor_config(const json& j) {
  if (!j.is_object()) throw ModelError(kFile + ": not a JSON object");
  PreprocessorConfig c;
  require_pio_steps(j);
  // As transformers' Qwen2VLImageProcessor(Fast) reads them: top-level min_pixels / max_pixels
  // (the older Qwen2-VL spelling) fill in `size`, which must then hold shortest_edge and
  // longest_edge; any other `size` (height / width, or one key alone) raises there.
  const auto top = [&](const char* key) { return j.contains(key) && !j[key].is_null(); };
  if (top("size")) {
    const json& size = j["size"];
    if (!size.is_object()) throw ModelError(name("size") + " must be an object, got " + size.dump());
    const bool has_min = size.contains("shortest_edge") || top("min_pixels");
    const bool has_max = size.contains("longest_edge") || top("max_pixels");
    if (!has_min || !has_max)
      throw ModelError(name("size") + " must contain 'shortest_edge' and 'longest_edge' keys (pixel budgets, as "
                       "transformers' Qwen2VLImageProcessor requires), got " + size.dump());
    if (size.contains("shortest_edge")) c.min_pixels = pixel_budget(size["shortest_edge"], "size.shortest_edge");
    if (size.contains("longest_edge")) c.max_pixels = pixel_budget(size["longest_edge"], "size.longest_edge");
  }
  if (top("min_pixels")) c.min_pixels = pixel_budget(j["min_pixels"], "min_pixels");
  if (top("max_pixels")) c.max_pixels = pixel_budget(j["max_pixels"], "max_pixels");
  if (c.min_pixels > c.max_pixels)
    throw ModelError(kFile + ": the minimum pixel budget " + std::to_string(c.min_pixels) +
                     " (size.shortest_edge / min_pixels) exceeds the maximum " + std::to_string(c.max_pixels) +
                     " (size.longest_edge / max_pixels)");

  const auto size_field = [&](const char* key, int64_t hi, int fallback) {
    return top(key) ? static_cast<int>(integer_in(j[key], name(key), 1, hi)) : fallback;
  };
  c.patch_size = size_field("patch_size", limits::kMaxPatchSize, c.patch_size);
  c.temporal_patch_size = size_field("temporal_patch_size", limits::kMaxTemporalPatch, c.temporal_patch_size);
  c.merge_size = size_field("merge_size", limits::kMaxMergeSize, c.merge_size);
  // 1e-6 keeps 1 / rescale_factor and mean / rescale_factor finite in float32 (real files: 1/255).
  if (top("rescale_factor")) c.rescale_factor = number_in(j["rescale_factor"], name("rescale_factor"), 1e-6, 1.0);
  // Means and deviations in rescaled units (0.5, 0.48...); the bounds keep the fused float32
  // normalisation finite, and a deviation must be positive.
  read_triplet(j, "image_mean", -1000.0, 1000.0, c.image_mean);
  read_triplet(j, "image_std", 1e-6, 1000.0, c.image_std);
  return c;
}

PreprocessorConfig load_preprocessor_config(const std::filesystem::path& model_dir) {
  const auto path = model_dir / kFile;
  std::ifstream in(path);
  if (!in) throw ModelError("cannot open " + path.string());
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    throw ModelError(path.string() + ": invalid JSON: " + e.what());
  }
  try {
    return parse_preprocessor_config(j);
  } catch (const ModelError& e) {
    throw ModelError(model_dir.string() + "/" + e.what());
  }
}

}  // namespace pio
