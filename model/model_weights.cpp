#include "model/model_weights.h"

#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "model/errors.h"
#include "storage/fingerprint.h"
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

namespace {

// The matmul weights' format under the options' scheme. The vision tower is never quantised.
WeightFormat format_for(const ModelOptions& options, DType dtype, bool quantisable) {
  if (quantisable && options.weights == WeightScheme::Q8) return WeightFormat::Q8;
  if (quantisable && options.weights == WeightScheme::Q4) return WeightFormat::Q4;
  const bool bf16 = options.weights == WeightScheme::BF16 || dtype == DType::BF16;
  return bf16 && options.bf16_panels ? WeightFormat::BF16Packed : WeightFormat::Plain;
}

}  // namespace

ModelOptions options_for(ModelOptions options, const Backend& backend) {
  if (!backend.shares_host_memory()) options.bf16_panels = false;
  return options;
}

ModelWeights::LoadedWeights ModelWeights::load_weights(const ModelConfig& config, const Checkpoint& ckpt) {
  LoadedWeights w{load_text_weights(ckpt, config.text), nullptr};
  if (config.vision && ckpt.has_prefix("model.visual."))
    w.vision = std::make_unique<VisionWeights>(load_vision_weights(ckpt, *config.vision));
  return w;
}

std::unique_ptr<PackedWeights> ModelWeights::pack(const std::filesystem::path& dir, const Checkpoint& ckpt,
                                                  LoadedWeights& w, const ModelOptions& options) {
  std::vector<PackRequest> requests;
  auto add = [&](WeightView& v, bool quantisable) {
    const WeightFormat f = format_for(options, v.dtype, quantisable);
    if (f != WeightFormat::Plain) requests.push_back({&v, f});
  };
  for (auto& l : w.text.layers)
    for (WeightView* v : {&l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.gate_proj, &l.up_proj, &l.down_proj})
      add(*v, true);
  add(w.text.lm_head, true);
  if (w.vision) {
    add(w.vision->patch_weight, false);
    for (auto& b : w.vision->blocks)
      for (WeightView* v : {&b.qkv_weight, &b.proj_weight, &b.fc1_weight, &b.fc2_weight}) add(*v, false);
    add(w.vision->merger.fc1_weight, false);
    add(w.vision->merger.fc2_weight, false);
    for (auto& m : w.vision->deepstack)
      for (WeightView* v : {&m.fc1_weight, &m.fc2_weight}) add(*v, false);
  }
  if (requests.empty()) return nullptr;
  const std::string layout = std::string(weight_scheme_name(options.weights)) + (options.bf16_panels ? "" : "-plain-bf16");
  const std::string key = model_fingerprint(dir, layout);
  // The host too: a cache shared over the network with a host whose checkpoint at the same
  // path is another copy must not delete that host's file.
  std::error_code ec;
  const std::filesystem::path where = std::filesystem::weakly_canonical(std::filesystem::absolute(dir), ec);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string source = std::string(host) + ":" + (ec ? std::filesystem::absolute(dir) : where).string() + "|" + layout;
  return std::make_unique<PackedWeights>(ckpt, requests, key, source, options.pack_cache_dir, options.map_pack);
}

ModelWeights::ModelWeights(const std::filesystem::path& dir, const ModelOptions& options)
    : config_(load_model_config(dir)),
      checkpoint_(dir),
      scheme_(options.weights),
      weights_(load_weights(config_, checkpoint_)),
      packed_(pack(dir, checkpoint_, weights_, options)),
      stop_ids_(load_stop_ids(dir)) {}

const VisionWeights& ModelWeights::vision() const {
  if (!weights_.vision)
    throw ModelError(checkpoint_.dir().string() +
                     " is a text-only checkpoint (no model.visual.* tensors): it cannot read images; "
                     "pass precomputed --image-embeds instead");
  return *weights_.vision;
}

}  // namespace pio
