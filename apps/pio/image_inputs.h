// The image options that several subcommands share: --image files (preprocessed and encoded
// by the model's vision tower) or --image-embeds (features computed earlier), and --max-pixels.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "model/image_features.h"
#include "model/model.h"

namespace pio::cli {

struct ImageArgs {
  std::vector<std::string> images;
  std::string embeds;
  int64_t max_pixels = 0;  // 0: preprocessor_config.json's
};

struct ImageTimings {
  double preprocess_s = 0, encode_s = 0;
};

void add_image_options(CLI::App* cmd, ImageArgs& args, bool allow_embeds);

// Preprocesses every image with the model directory's preprocessor_config.json.
std::vector<PixelValues> preprocess_images(const std::string& model_dir, const std::vector<std::string>& images,
                                           int64_t max_pixels);

// The features the prompt's image placeholders take, or nothing when no image was given.
std::optional<ImageFeatures> image_features(Model& model, const std::string& model_dir, const ImageArgs& args,
                                            ImageTimings* timings = nullptr);

}  // namespace pio::cli
