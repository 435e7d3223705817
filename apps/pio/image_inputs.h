// The image options that several subcommands share: --image files (preprocessed and encoded
// by the model's vision tower) or --image-embeds (features computed earlier), and --max-pixels;
// and the prompt those subcommands prepare from them.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "apps/pio/option_checks.h"
#include "model/image_features.h"
#include "model/model_weights.h"
#include "model/prompt.h"
#include "model/text_model.h"

namespace pio::cli {

struct ImageArgs {
  std::vector<std::string> images;
  std::string embeds;
  int64_t max_pixels = 0;  // 0: preprocessor_config.json's
};

struct ImageTimings {
  double preprocess_s = 0, encode_s = 0;
};

// Adds --image, --max-pixels and, with allow_embeds, --image-embeds; returns --image.
CLI::Option* add_image_options(CLI::App* cmd, ImageArgs& args, bool allow_embeds);

// Preprocesses every image with the model directory's preprocessor_config.json.
std::vector<PixelValues> preprocess_images(const std::string& model_dir, const std::vector<std::string>& images,
                                           int64_t max_pixels);

// The features the prompt's image placeholders take, or nothing when no image was given; --image
// files are encoded by a vision runner over `weights` on `backend` (ModelError for a text-only
// checkpoint, before any decoding).
std::optional<ImageFeatures> image_features(const ModelWeights& weights, Backend& backend, const std::string& model_dir,
                                            const ImageArgs& args, ImageTimings* timings = nullptr);

// What generate, logits and chat share: the weights, a text runner on the --device backend (or
// split with the CPU), the prompt's image features (from --image or --image-embeds, encoded on
// the vision backend) and the prompt prepared over them. Not copyable: the prompt points into the features.
struct LoadedPrompt {
  // The model is offloaded as `backends` plan it, with a KV cache of up to kv_bytes.
  LoadedPrompt(const std::string& model_dir, ComputeBackends backends, const ModelOptions& options,
               int64_t kv_bytes, std::span<const int32_t> ids, const ImageArgs& args, ImageTimings* timings = nullptr);
  LoadedPrompt(const LoadedPrompt&) = delete;
  LoadedPrompt& operator=(const LoadedPrompt&) = delete;

  ComputeBackends backends;
  ModelWeights weights;
  TextModel text;
  std::optional<ImageFeatures> images;
  PreparedPrompt prompt;
};

}  // namespace pio::cli
