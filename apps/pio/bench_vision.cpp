#include "apps/pio/bench_vision.h"

#include <cstdio>
#include <stdexcept>

#include "apps/pio/bench_util.h"
#include "apps/pio/chat_prompt.h"
#include "model/generate.h"
#include "model/image/preprocess.h"
#include "model/image_features.h"
#include "model/vision_model.h"

namespace pio::cli {
namespace {

// A deterministic photo-sized image: smooth gradients with a little texture, so the resampler
// does real work. Decoding is not timed; the figures start at the RGB pixels.
RgbImage synthetic_image(const std::string& size) {
  RgbImage img;
  if (std::sscanf(size.c_str(), "%ldx%ld", &img.width, &img.height) != 2 || img.width <= 0 || img.height <= 0)
    throw std::invalid_argument("image size '" + size + "' is not WxH");
  img.pixels.resize(static_cast<size_t>(img.width * img.height * 3));
  for (int64_t y = 0; y < img.height; ++y)
    for (int64_t x = 0; x < img.width; ++x)
      for (int64_t c = 0; c < 3; ++c)
        img.pixels[static_cast<size_t>((y * img.width + x) * 3 + c)] =
            static_cast<uint8_t>((x * (c + 1) + y * (3 - c) + ((x * 31 + y * 17) % 13)) & 0xff);
  return img;
}

struct Stage {
  double preprocess_s = 0, encode_s = 0;
  PixelValues pixels;
};

Stage preprocess_and_encode(VisionModel& vision, const RgbImage& img, const PreprocessorConfig& cfg) {
  Stage s;
  auto t0 = std::chrono::steady_clock::now();
  s.pixels = preprocess_rgb(img, cfg, ImageLimits::from_config(cfg));
  s.preprocess_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  vision.encode({&s.pixels, 1});
  s.encode_s = seconds_since(t0);
  return s;
}

// Everything from RGB pixels to the first generated token.
double time_to_first_token(VisionModel& vision, TextModel& decoder, const ModelConfig& config,
                           const std::vector<int32_t>& ids, const RgbImage& img, const PreprocessorConfig& cfg,
                           KvDType kv_dtype) {
  const auto t0 = std::chrono::steady_clock::now();
  const PixelValues pixels = preprocess_rgb(img, cfg, ImageLimits::from_config(cfg));
  const ImageFeatures features = encode_images(vision, {&pixels, 1});
  const PreparedPrompt prompt = prepare_prompt(decoder, config, ids, &features);
  KvCacheShape shape = decoder.kv_shape();
  shape.dtype = kv_dtype;
  PagedKvCache cache(decoder.kv_layers(), shape,
                     KvStorage::bytes_per_block(shape, 16) * (static_cast<int64_t>(prompt.ids.size()) / 16 + 2));
  generate(decoder, cache, prompt, {1, {}, {}, 0, {}});
  return seconds_since(t0);
}

}  // namespace

void bench_vision(const ModelWeights& weights, TextModel& decoder, Backend& vision_backend, const std::string& model_dir,
                  const VisionBenchOptions& options, nlohmann::ordered_json& out, std::ostream* text) {
  if (!weights.has_vision()) {
    if (text) *text << "vision: not measured (text-only checkpoint)\n";
    return;
  }
  if (options.sizes.empty()) return;
  VisionModel vision(weights, vision_backend);
  const PreprocessorConfig cfg = load_preprocessor_config(model_dir);
  std::vector<RgbImage> images;
  for (const auto& size : options.sizes) images.push_back(synthetic_image(size));
  preprocess_and_encode(vision, images.front(), cfg);  // warm-up: pages the vision weights in

  for (size_t i = 0; i < images.size(); ++i) {
    std::vector<double> pre, enc;
    Stage s;
    for (int r = 0; r < options.runs; ++r) {
      s = preprocess_and_encode(vision, images[i], cfg);
      pre.push_back(s.preprocess_s);
      enc.push_back(s.encode_s);
    }
    const std::string& size = options.sizes[i];
    const int64_t tokens = image_token_count({s.pixels.grid_t, s.pixels.grid_h, s.pixels.grid_w},
                                             weights.config().vision->spatial_merge_size);
    out["preprocess_s_" + size] = median(pre);
    out["vision_encode_s_" + size] = median(enc);
    out["image_tokens_" + size] = tokens;
    if (text)
      *text << "image " << size << " (" << s.pixels.grid_h << "x" << s.pixels.grid_w << " patches, " << tokens
            << " tokens): preprocess " << median(pre) * 1000 << " ms, vision encode " << median(enc)
            << " s (median of " << options.runs << ")\n";
  }

  const auto tokenizer = load_tokenizer(model_dir);
  const auto ids = single_turn_chat_ids(*tokenizer, std::nullopt, "Describe this image.", 1);
  std::vector<double> ttft;
  for (int r = 0; r < options.runs; ++r) ttft.push_back(time_to_first_token(vision, decoder, weights.config(), ids, images.front(), cfg, options.kv_dtype));
  out["ttft_s_image_text"] = median(ttft);
  out["ttft_image"] = options.sizes.front();
  if (text)
    *text << "time to first token, " << options.sizes.front() << " image + \"Describe this image.\" chat: "
          << median(ttft) << " s (median of " << options.runs << ")\n";
}

}  // namespace pio::cli
