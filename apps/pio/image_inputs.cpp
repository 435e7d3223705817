#include "apps/pio/image_inputs.h"

#include <chrono>

#include "apps/pio/option_checks.h"
#include "model/errors.h"
#include "model/image/preprocess.h"
#include "model/vision_model.h"

namespace pio::cli {

CLI::Option* add_image_options(CLI::App* cmd, ImageArgs& args, bool allow_embeds) {
  auto* image = cmd->add_option("--image", args.images, "image file (repeatable; in prompt order)");
  add_max_pixels_option(cmd, args.max_pixels);
  if (allow_embeds)
    cmd->add_option("--image-embeds", args.embeds, "safetensors file from `pio encode-image` instead of --image")
        ->excludes(image);
  return image;
}

std::vector<PixelValues> preprocess_images(const std::string& model_dir, const std::vector<std::string>& images,
                                           int64_t max_pixels) {
  const PreprocessorConfig cfg = load_preprocessor_config(model_dir);
  ImageLimits limits = ImageLimits::from_config(cfg);
  if (max_pixels > 0) limits.max_pixels = max_pixels;
  limits.min_pixels = std::min(limits.min_pixels, limits.max_pixels);
  std::vector<PixelValues> out;
  for (const auto& path : images) {
    try {
      out.push_back(preprocess_image(read_image_file(path), cfg, limits));
    } catch (const ModelError& e) {
      throw ModelError(path + ": " + e.what());
    }
  }
  return out;
}

std::optional<ImageFeatures> image_features(const ModelWeights& weights, Backend& backend, const std::string& model_dir,
                                            const ImageArgs& args, ImageTimings* timings) {
  if (!args.embeds.empty()) return read_image_features(args.embeds);
  if (args.images.empty()) return std::nullopt;
  VisionModel vision(weights, backend);  // refuses a text-only checkpoint before any decoding
  auto t0 = std::chrono::steady_clock::now();
  const auto pixels = preprocess_images(model_dir, args.images, args.max_pixels);
  auto t1 = std::chrono::steady_clock::now();
  ImageFeatures features = encode_images(vision, pixels);
  auto t2 = std::chrono::steady_clock::now();
  if (timings) {
    timings->preprocess_s = std::chrono::duration<double>(t1 - t0).count();
    timings->encode_s = std::chrono::duration<double>(t2 - t1).count();
  }
  return features;
}

LoadedPrompt::LoadedPrompt(const std::string& model_dir, ComputeBackends compute, const ModelOptions& options,
                           int64_t kv_bytes, std::span<const int32_t> ids, const ImageArgs& args,
                           ImageTimings* timings)
    : backends(std::move(compute)),
      weights(model_dir, options_for(options, backends.device())),
      text(weights, backends.plan(weights, kv_bytes)),
      images(image_features(weights, backends.vision(), model_dir, args, timings)),
      prompt(prepare_prompt(text, weights.config(), ids, images ? &*images : nullptr)) {}

}  // namespace pio::cli
