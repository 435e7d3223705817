#include "model/config.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "model/errors.h"
#include "model/json_fields.h"
#include "model/limits.h"

namespace pio {
namespace {

using nlohmann::json;
using json_fields::integer_in;
using json_fields::number_in;

using namespace limits;

// Reads one JSON object's fields, naming them as `where.key` in every error.
class FieldReader {
 public:
  FieldReader(const json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) throw ModelError(where_ + " must be a JSON object, got " + j_.dump());
  }

  std::string name(const char* key) const { return where_ + "." + key; }
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

  int64_t integer(const char* key, int64_t lo, int64_t hi) const { return integer_in(at(key), name(key), lo, hi); }
  int64_t integer(const char* key, int64_t lo, int64_t hi, int64_t fallback) const {
    return has(key) ? integer(key, lo, hi) : fallback;
  }
  double number(const char* key, double lo, double hi, double fallback) const {
    return has(key) ? number_in(j_[key], name(key), lo, hi) : fallback;
  }
  std::vector<int> integers(const char* key, int64_t lo, int64_t hi) const {
    const json& v = at(key);
    if (!v.is_array()) throw ModelError(name(key) + " has the wrong type: expected a list, got " + v.dump());
    std::vector<int> out;
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(static_cast<int>(integer_in(v[i], name(key) + "[" + std::to_string(i) + "]", lo, hi)));
    return out;
  }
  template <class T>
  T value(const char* key, T fallback) const {
    if (!has(key)) return fallback;
    try {
      return j_[key].get<T>();
    } catch (const json::exception&) {
      throw ModelError(name(key) + " has the wrong type: " + j_[key].dump());
    }
  }

 private:
  const json& at(const char* key) const {
    if (!has(key)) throw ModelError(name(key) + " is missing");
    return j_[key];
  }
  const json& j_;
  std::string where_;
};

// a * b + ..., refusing (rather than wrapping) past kMaxParameters.
class ParameterCount {
 public:
  explicit ParameterCount(std::string where) : where_(std::move(where)) {}
  void add(std::initializer_list<int64_t> factors, int64_t times = 1) {
    int64_t n = times;
    for (int64_t f : factors)
      if (__builtin_mul_overflow(n, f, &n)) n = kMaxParameters + 1;
    if (n > kMaxParameters || __builtin_add_overflow(total_, n, &total_) || total_ > kMaxParameters)
      throw ModelError(where_ + ": the shapes imply more than 2^40 parameters, above any model pio can hold");
  }

 private:
  std::string where_;
  int64_t total_ = 0;
};

TextConfig parse_text(const json& j, const json& top, const std::string& where) {
  const FieldReader f(j, where);
  TextConfig t;
  t.vocab_size = f.integer("vocab_size", 1, kMaxVocab);
  t.hidden_size = f.integer("hidden_size", 1, kMaxHidden);
  t.intermediate_size = f.integer("intermediate_size", 1, kMaxIntermediate);
  t.num_hidden_layers = static_cast<int>(f.integer("num_hidden_layers", 1, kMaxLayers));
  t.num_attention_heads = static_cast<int>(f.integer("num_attention_heads", 1, kMaxHeads));
  t.num_key_value_heads =
      static_cast<int>(f.integer("num_key_value_heads", 1, t.num_attention_heads, t.num_attention_heads));
  if (t.num_attention_heads % t.num_key_value_heads)
    throw ModelError(where + ": num_attention_heads must be a multiple of num_key_value_heads");
  // HF's default head_dim is hidden_size / num_attention_heads; it too must be in range.
  t.head_dim = static_cast<int>(f.has("head_dim") ? f.integer("head_dim", 2, kMaxHeadDim)
                                                  : t.hidden_size / t.num_attention_heads);
  if (t.head_dim < 2 || t.head_dim > kMaxHeadDim || t.head_dim % 2)
    throw ModelError(f.name("head_dim") + " = " + std::to_string(t.head_dim) +
                     " must be even and in [2, " + std::to_string(kMaxHeadDim) + "] for rotary embeddings");
  t.rms_norm_eps = f.number("rms_norm_eps", 0.0, 1.0, 1e-6);
  if (t.rms_norm_eps <= 0) throw ModelError(f.name("rms_norm_eps") + " must be positive");
  t.max_position_embeddings = f.integer("max_position_embeddings", 0, kMaxPositions, 0);
  t.dtype = f.value<std::string>("dtype", f.value<std::string>("torch_dtype", "bfloat16"));
  // tie_word_embeddings: text_config decides when it says, else the top level (HF default true).
  t.tie_word_embeddings =
      f.value<bool>("tie_word_embeddings", FieldReader(top, "config").value<bool>("tie_word_embeddings", true));

  // transformers 4.57 writes rope_scaling + rope_theta; v5 writes rope_parameters with the theta inside.
  const char* rope_key = nullptr;
  for (const char* key : {"rope_parameters", "rope_scaling"})
    if (j.contains(key) && j[key].is_object()) rope_key = key;
  std::optional<FieldReader> rope;
  if (rope_key) rope.emplace(j[rope_key], f.name(rope_key));
  // Only the plain rotary: scaled kinds (linear, yarn, ...) would silently compute other angles.
  const auto rope_type = rope ? rope->value<std::string>("rope_type", rope->value<std::string>("type", "default"))
                              : std::string("default");
  if (rope_type != "default" && rope_type != "mrope")
    throw ModelError(where + ": rope_type '" + rope_type + "' is not supported (default only)");
  const double max_double = std::numeric_limits<double>::max();
  t.rope_theta = f.number("rope_theta", 0.0, max_double, rope ? rope->number("rope_theta", 0.0, max_double, 10000.0)
                                                              : 10000.0);
  if (t.rope_theta <= 0) throw ModelError(where + ": rope_theta must be positive");
  const int half = t.head_dim / 2;
  if (rope && rope->has("mrope_section")) {
    const auto sec = rope->integers("mrope_section", 0, half);
    if (sec.size() != 3) throw ModelError(rope->name("mrope_section") + " must have 3 entries");
    t.mrope_section = {sec[0], sec[1], sec[2]};
  } else {
    t.mrope_section = {half, 0, 0};  // plain 1D rotary
  }
  if (t.mrope_section[0] + t.mrope_section[1] + t.mrope_section[2] != half)
    throw ModelError(where + ": mrope_section must sum to head_dim / 2 = " + std::to_string(half));

  ParameterCount params(where);
  params.add({t.vocab_size, t.hidden_size}, t.tie_word_embeddings ? 1 : 2);
  params.add({int64_t{t.num_attention_heads} + 2 * t.num_key_value_heads, t.head_dim, t.hidden_size},
             t.num_hidden_layers);                                               // q, k, v
  params.add({int64_t{t.num_attention_heads}, t.head_dim, t.hidden_size}, t.num_hidden_layers);  // o
  params.add({3, t.intermediate_size, t.hidden_size}, t.num_hidden_layers);     // gate, up, down
  return t;
}

VisionConfig parse_vision(const json& j, const TextConfig& text, const std::string& where) {
  const FieldReader f(j, where);
  VisionConfig v;
  v.depth = static_cast<int>(f.integer("depth", 1, kMaxLayers));
  v.hidden_size = f.integer("hidden_size", 1, kMaxHidden);
  v.num_heads = static_cast<int>(f.integer("num_heads", 1, kMaxHeads));
  if (v.hidden_size % v.num_heads) throw ModelError(where + ": hidden_size must be a multiple of num_heads");
  if (v.hidden_size / v.num_heads > kMaxHeadDim)
    throw ModelError(where + ": the head dim hidden_size / num_heads must be at most " + std::to_string(kMaxHeadDim));
  v.intermediate_size = f.integer("intermediate_size", 1, kMaxIntermediate);
  v.in_channels = static_cast<int>(f.integer("in_channels", 1, kMaxInChannels, 3));
  v.patch_size = static_cast<int>(f.integer("patch_size", 1, kMaxPatchSize));
  v.temporal_patch_size = static_cast<int>(f.integer("temporal_patch_size", 1, kMaxTemporalPatch, 2));
  v.spatial_merge_size = static_cast<int>(f.integer("spatial_merge_size", 1, kMaxMergeSize, 2));
  v.out_hidden_size = f.integer("out_hidden_size", 1, kMaxHidden);
  v.num_position_embeddings = f.integer("num_position_embeddings", 1, kMaxVisionPositions);
  // transformers' Qwen3VLVisionConfig default when the key is absent.
  v.deepstack_visual_indexes =
      f.has("deepstack_visual_indexes") ? f.integers("deepstack_visual_indexes", 0, kMaxLayers) : std::vector<int>{8, 16, 24};
  for (int idx : v.deepstack_visual_indexes)
    if (idx >= v.depth)
      throw ModelError(where + ": deepstack index " + std::to_string(idx) + " is outside 0.." + std::to_string(v.depth - 1));
  // Feature k goes to decoder layer k in block order; transformers reads unsorted or repeated
  // lists differently, so accept only the increasing lists real checkpoints have.
  if (!std::is_sorted(v.deepstack_visual_indexes.begin(), v.deepstack_visual_indexes.end(), std::less_equal<int>()))
    throw ModelError(where + ".deepstack_visual_indexes must be strictly increasing");
  // Qwen3-VL's image features always carry DeepStack sets, each added to one decoder layer.
  if (v.deepstack_visual_indexes.empty() ||
      static_cast<int64_t>(v.deepstack_visual_indexes.size()) > text.num_hidden_layers)
    throw ModelError(where + ".deepstack_visual_indexes must list 1 to num_hidden_layers = " +
                     std::to_string(text.num_hidden_layers) + " blocks");
  v.hidden_act = f.value<std::string>("hidden_act", "gelu_pytorch_tanh");

  const int64_t h = v.hidden_size, merged = h * v.spatial_merge_size * v.spatial_merge_size;
  ParameterCount params(where);
  params.add({h, v.in_channels, v.temporal_patch_size, v.patch_size, v.patch_size});  // patch embedding
  params.add({v.num_position_embeddings, h});
  params.add({4, h, h}, v.depth);                       // qkv, proj
  params.add({2, v.intermediate_size, h}, v.depth);     // fc1, fc2
  params.add({merged, merged + v.out_hidden_size}, static_cast<int64_t>(v.deepstack_visual_indexes.size()) + 1);
  return v;
}

// A token id of the top level: HF's default when absent. With a vision tower these ids are
// embedded (HF embeds every prompt id before scattering the image features), so they must lie
// in the vocabulary; a text-only model only compares against them, and a prompt can never hold
// an id outside its vocabulary, so there any int32 id is harmless (test configs cut the
// vocabulary without renumbering them).
int32_t token_id(const FieldReader& f, const char* key, int32_t fallback, const ModelConfig& c) {
  const int64_t limit = c.vision ? c.text.vocab_size : int64_t{std::numeric_limits<int32_t>::max()} + 1;
  const auto id = f.integer(key, 0, limit - 1, fallback);
  if (id >= limit)
    throw ModelError(f.name(key) + " = " + std::to_string(id) + " (the default) is outside the vocabulary of " +
                     std::to_string(limit) + " ids; set it in config.json");
  return static_cast<int32_t>(id);
}

}  // namespace

ModelConfig parse_model_config(const json& j, const std::string& source) {
  if (!j.is_object()) throw ModelError(source + ": not a JSON object");
  ModelConfig c;
  const FieldReader f(j, source);
  c.model_type = f.value<std::string>("model_type", "qwen3_vl");
  // A plain text checkpoint keeps its fields at the top level.
  const bool nested = f.has("text_config");
  c.text = parse_text(nested ? j["text_config"] : j, j, nested ? f.name("text_config") : source);
  if (f.has("vision_config")) c.vision = parse_vision(j["vision_config"], c.text, f.name("vision_config"));
  c.image_token_id = token_id(f, "image_token_id", c.image_token_id, c);
  c.video_token_id = token_id(f, "video_token_id", c.video_token_id, c);
  c.vision_start_token_id = token_id(f, "vision_start_token_id", c.vision_start_token_id, c);
  c.vision_end_token_id = token_id(f, "vision_end_token_id", c.vision_end_token_id, c);
  if (c.vision && c.vision->out_hidden_size != c.text.hidden_size)
    throw ModelError(source + ": vision_config.out_hidden_size must equal text hidden_size");
  return c;
}

ModelConfig load_model_config(const std::filesystem::path& model_dir) {
  const auto path = model_dir / "config.json";
  std::ifstream in(path);
  if (!in) throw ModelError(path.string() + ": cannot open (is this a model directory?)");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw ModelError(path.string() + ": invalid JSON: " + e.what());
  }
  return parse_model_config(j, path.string());
}

json to_hf_json(const ModelConfig& c) {
  const TextConfig& t = c.text;
  json text = {
      {"attention_bias", false},
      {"attention_dropout", 0.0},
      {"bos_token_id", 151643},
      {"dtype", t.dtype},
      {"eos_token_id", 151645},
      {"head_dim", t.head_dim},
      {"hidden_act", "silu"},
      {"hidden_size", t.hidden_size},
      {"initializer_range", 0.02},
      {"intermediate_size", t.intermediate_size},
      {"max_position_embeddings", t.max_position_embeddings},
      {"model_type", "qwen3_vl_text"},
      {"num_attention_heads", t.num_attention_heads},
      {"num_hidden_layers", t.num_hidden_layers},
      {"num_key_value_heads", t.num_key_value_heads},
      {"rms_norm_eps", t.rms_norm_eps},
      {"rope_scaling",
       {{"mrope_interleaved", true},
        {"mrope_section", {t.mrope_section[0], t.mrope_section[1], t.mrope_section[2]}},
        {"rope_type", "default"}}},
      {"rope_theta", t.rope_theta},
      {"tie_word_embeddings", t.tie_word_embeddings},
      {"use_cache", true},
      {"vocab_size", t.vocab_size},
  };
  json j = {
      {"architectures", {"Qwen3VLForConditionalGeneration"}},
      {"image_token_id", c.image_token_id},
      {"model_type", c.model_type},
      {"text_config", text},
      {"tie_word_embeddings", t.tie_word_embeddings},
      {"transformers_version", "4.57.0.dev0"},
      {"video_token_id", c.video_token_id},
      {"vision_end_token_id", c.vision_end_token_id},
      {"vision_start_token_id", c.vision_start_token_id},
  };
  if (c.vision) {
    const VisionConfig& v = *c.vision;
    j["vision_config"] = {
        {"deepstack_visual_indexes", v.deepstack_visual_indexes},
        {"depth", v.depth},
        {"hidden_act", v.hidden_act},
        {"hidden_size", v.hidden_size},
        {"in_channels", v.in_channels},
        {"initializer_range", 0.02},
        {"intermediate_size", v.intermediate_size},
        {"model_type", "qwen3_vl"},
        {"num_heads", v.num_heads},
        {"num_position_embeddings", v.num_position_embeddings},
        {"out_hidden_size", v.out_hidden_size},
        {"patch_size", v.patch_size},
        {"spatial_merge_size", v.spatial_merge_size},
        {"temporal_patch_size", v.temporal_patch_size},
    };
  }
  return j;
}

}  // namespace pio
