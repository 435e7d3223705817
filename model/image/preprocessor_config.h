// preprocessor_config.json: the image processor's parameters, read from a model directory.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>

#include <nlohmann/json_fwd.hpp>

namespace pio {

struct PreprocessorConfig {
  int64_t min_pixels = 65536;       // size.shortest_edge: a pixel budget, not an edge length
  int64_t max_pixels = 16777216;    // size.longest_edge
  int patch_size = 16;
  int temporal_patch_size = 2;
  int merge_size = 2;
  double rescale_factor = 1.0 / 255.0;
  std::array<double, 3> image_mean{0.5, 0.5, 0.5};
  std::array<double, 3> image_std{0.5, 0.5, 0.5};

  // smart_resize rounds both sides to multiples of this (32 for Qwen3-VL).
  int resize_factor() const { return patch_size * merge_size; }
};

// Reads model_dir/preprocessor_config.json; absent keys keep the Qwen3-VL defaults above.
// Validates as transformers' Qwen2VLImageProcessor(Fast) does, and range-checks every number
// (bounds in model/limits.h): throws ModelError naming the field and its allowed range for a
// `size` without both shortest_edge and longest_edge (after min_pixels / max_pixels fill it
// in), budgets outside [1, 2^26] or min over max, patch / merge / temporal sizes out of range,
// a non-finite or out-of-range rescale_factor, image_mean or image_std, a resampling filter
// other than bicubic, or a do_* step turned off.
PreprocessorConfig load_preprocessor_config(const std::filesystem::path& model_dir);
PreprocessorConfig parse_preprocessor_config(const nlohmann::json& j);

}  // namespace pio
