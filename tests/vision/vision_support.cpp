#include "vision_support.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>

#include "gpu/kernel_math.h"
#include "model/checkpoint_maker.h"
#include "model/safetensors_writer.h"

namespace vtest {

namespace {

// Standard deviations that keep activations O(1) and attention scores O(several).
float sharp_value(const std::string& name, std::mt19937_64& gen) {
  std::normal_distribution<float> normal;
  const auto ends = [&](const std::string& s) { return name.ends_with(s); };
  if (ends("norm.weight") || ends("norm1.weight") || ends("norm2.weight")) return 1.0f + 0.1f * normal(gen);
  if (ends(".bias")) return 0.1f * normal(gen);
  if (ends("attn.qkv.weight")) return 0.35f * normal(gen);
  if (ends("pos_embed.weight")) return normal(gen);
  if (ends("patch_embed.proj.weight")) return 0.05f * normal(gen);
  return 0.2f * normal(gen);
}

void write_sharp(const pio::ModelConfig& cfg, pio::DType dtype, const std::filesystem::path& dir) {
  std::vector<pio::TensorSpec> vision;
  for (auto& t : pio::checkpoint_tensors(cfg, dtype))
    if (t.name.starts_with("model.visual.")) vision.push_back(t);
  pio::write_checkpoint_tensors(dir, vision, uint64_t{1} << 40, [](const pio::TensorSpec& t, std::vector<unsigned char>& out) {
    std::mt19937_64 gen(std::hash<std::string>{}(t.name));
    const size_t n = t.bytes() / pio::dtype_size(t.dtype);
    out.resize(t.bytes());
    for (size_t i = 0; i < n; ++i) {
      const float v = sharp_value(t.name, gen);
      if (t.dtype == pio::DType::BF16) {
        const uint16_t b = pio::math::f32_to_bf16(v);
        std::memcpy(out.data() + 2 * i, &b, 2);
      } else {
        std::memcpy(out.data() + 4 * i, &v, 4);
      }
    }
  });
}

std::filesystem::path written(const test::TempDir& dir, pio::DType dtype, Weights weights) {
  if (weights == Weights::sharp) {
    write_sharp(pio::preset_config("tiny"), dtype, dir.path());
    return dir.path();
  }
  pio::CheckpointRequest req;
  req.preset = "tiny";
  req.seed = 11;
  req.out = dir.path();
  req.dtype = dtype;
  req.text_only = weights == Weights::text_only;
  pio::make_checkpoint(req);
  return dir.path();
}

const char* tag(Weights w) { return w == Weights::preset ? "preset" : w == Weights::text_only ? "text" : "sharp"; }

}  // namespace

TinyModel::TinyModel(pio::DType dtype, Weights weights)
    : dir(std::string(pio::dtype_name(dtype)) + "_" + tag(weights)),
      config(pio::preset_config("tiny")),
      ckpt(written(dir, dtype, weights)) {}

const TinyModel& tiny(pio::DType dtype, Weights weights) {
  static std::map<std::pair<pio::DType, Weights>, std::unique_ptr<TinyModel>> models;
  auto& m = models[{dtype, weights}];
  if (!m) m = std::make_unique<TinyModel>(dtype, weights);
  return *m;
}

pio::PixelValues random_image(const pio::VisionConfig& cfg, int64_t t, int64_t h, int64_t w, uint32_t seed) {
  pio::PixelValues p;
  p.grid_t = t;
  p.grid_h = h;
  p.grid_w = w;
  p.channels = cfg.in_channels;
  p.temporal_patch_size = cfg.temporal_patch_size;
  p.patch_size = cfg.patch_size;
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  p.data.resize(static_cast<size_t>(p.rows() * p.row_width()));
  for (float& v : p.data) v = dist(gen);
  return p;
}

}  // namespace vtest
