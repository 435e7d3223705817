#include "model/config.h"

#include <algorithm>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "model/errors.h"

namespace pio {
namespace {

using nlohmann::json;

class FieldReader {
 public:
  FieldReader(const json& j, std::string where) : j_(j), where_(std::move(where)) {}

  template <class T>
  T required(const char* key) const {
    if (!j_.contains(key)) throw ModelError(where_ + "." + key + " is missing");
    return get<T>(key);
  }
  template <class T>
  T optional(const char* key, T fallback) const {
    return j_.contains(key) && !j_[key].is_null() ? get<T>(key) : fallback;
  }

 private:
  template <class T>
  T get(const char* key) const {
    try {
      return j_[key].get<T>();
    } catch (const json::exception&) {
      throw ModelError(where_ + "." + key + " has the wrong type: " + j_[key].dump());
    }
  }
  const json& j_;
  std::string where_;
};

void require_positive(int64_t v, const std::string& what) {
  if (v <= 0) throw ModelError(what + " must be positive, got " + std::to_string(v));
}

TextConfig parse_text(const json& j, const json& top, const std::string& where) {
  const FieldReader f(j, where);
  TextConfig t;
  t.vocab_size = f.required<int64_t>("vocab_size");
  t.hidden_size = f.required<int64_t>("hidden_size");
  t.intermediate_size = f.required<int64_t>("intermediate_size");
  t.num_hidden_layers = f.required<int>("num_hidden_layers");
  t.num_attention_heads = f.required<int>("num_attention_heads");
  t.num_key_value_heads = f.optional<int>("num_key_value_heads", t.num_attention_heads);
  require_positive(t.num_attention_heads, where + ".num_attention_heads");
  t.head_dim = f.optional<int>("head_dim", static_cast<int>(t.hidden_size / t.num_attention_heads));
  t.rms_norm_eps = f.optional<double>("rms_norm_eps", 1e-6);
  t.max_position_embeddings = f.optional<int64_t>("max_position_embeddings", 0);
  t.dtype = f.optional<std::string>("dtype", f.optional<std::string>("torch_dtype", "bfloat16"));
  // tie_word_embeddings: text_config decides when it says, else the top level (HF default true).
  t.tie_word_embeddings = f.optional<bool>("tie_word_embeddings", FieldReader(top, "config").optional<bool>(
                                                                      "tie_word_embeddings", true));

  // transformers 4.57 writes rope_scaling + rope_theta; v5 writes rope_parameters with the theta inside.
  const json* rope = nullptr;
  for (const char* key : {"rope_parameters", "rope_scaling"})
    if (j.contains(key) && j[key].is_object()) rope = &j[key];
  t.rope_theta = f.optional<double>("rope_theta", rope ? FieldReader(*rope, where + ".rope").optional<double>(
                                                             "rope_theta", 10000.0)
                                                       : 10000.0);
  if (rope && rope->contains("mrope_section")) {
    const auto sec = FieldReader(*rope, where + ".rope").required<std::vector<int>>("mrope_section");
    if (sec.size() != 3) throw ModelError(where + ": mrope_section must have 3 entries");
    t.mrope_section = {sec[0], sec[1], sec[2]};
  } else {
    t.mrope_section = {t.head_dim / 2, 0, 0};  // plain 1D rotary
  }

  require_positive(t.vocab_size, where + ".vocab_size");
  require_positive(t.hidden_size, where + ".hidden_size");
  require_positive(t.intermediate_size, where + ".intermediate_size");
  require_positive(t.num_hidden_layers, where + ".num_hidden_layers");
  require_positive(t.num_key_value_heads, where + ".num_key_value_heads");
  require_positive(t.head_dim, where + ".head_dim");
  if (t.head_dim % 2) throw ModelError(where + ".head_dim must be even for rotary embeddings");
  if (t.num_attention_heads % t.num_key_value_heads)
    throw ModelError(where + ": num_attention_heads must be a multiple of num_key_value_heads");
  if (t.mrope_section[0] + t.mrope_section[1] + t.mrope_section[2] != t.head_dim / 2)
    throw ModelError(where + ": mrope_section must sum to head_dim / 2 = " + std::to_string(t.head_dim / 2));
  return t;
}

VisionConfig parse_vision(const json& j, const std::string& where) {
  const FieldReader f(j, where);
  VisionConfig v;
  v.depth = f.required<int>("depth");
  v.hidden_size = f.required<int64_t>("hidden_size");
  v.num_heads = f.required<int>("num_heads");
  v.intermediate_size = f.required<int64_t>("intermediate_size");
  v.in_channels = f.optional<int>("in_channels", 3);
  v.patch_size = f.required<int>("patch_size");
  v.temporal_patch_size = f.optional<int>("temporal_patch_size", 2);
  v.spatial_merge_size = f.optional<int>("spatial_merge_size", 2);
  v.out_hidden_size = f.required<int64_t>("out_hidden_size");
  v.num_position_embeddings = f.required<int64_t>("num_position_embeddings");
  // transformers' Qwen3VLVisionConfig default when the key is absent.
  v.deepstack_visual_indexes = f.optional<std::vector<int>>("deepstack_visual_indexes", {8, 16, 24});
  v.hidden_act = f.optional<std::string>("hidden_act", "gelu_pytorch_tanh");
  for (int64_t x : {int64_t{v.depth}, v.hidden_size, int64_t{v.num_heads}, v.intermediate_size,
                    int64_t{v.patch_size}, int64_t{v.temporal_patch_size}, int64_t{v.spatial_merge_size},
                    v.out_hidden_size, v.num_position_embeddings})
    require_positive(x, where + " sizes");
  if (v.hidden_size % v.num_heads) throw ModelError(where + ": hidden_size must be a multiple of num_heads");
  for (int idx : v.deepstack_visual_indexes)
    if (idx < 0 || idx >= v.depth)
      throw ModelError(where + ": deepstack index " + std::to_string(idx) + " is outside 0.." + std::to_string(v.depth - 1));
  // Feature k goes to decoder layer k in block order; transformers reads unsorted or repeated
  // lists differently, so accept only the increasing lists real checkpoints have.
  if (!std::is_sorted(v.deepstack_visual_indexes.begin(), v.deepstack_visual_indexes.end(), std::less_equal<int>()))
    throw ModelError(where + ".deepstack_visual_indexes must be strictly increasing");
  return v;
}

}  // namespace

ModelConfig parse_model_config(const json& j, const std::string& source) {
  if (!j.is_object()) throw ModelError(source + ": not a JSON object");
  ModelConfig c;
  const FieldReader f(j, source);
  c.model_type = f.optional<std::string>("model_type", "qwen3_vl");
  // A plain text checkpoint keeps its fields at the top level.
  const json& text = j.contains("text_config") ? j["text_config"] : j;
  c.text = parse_text(text, j, source + (j.contains("text_config") ? ".text_config" : ""));
  if (j.contains("vision_config") && j["vision_config"].is_object())
    c.vision = parse_vision(j["vision_config"], source + ".vision_config");
  c.image_token_id = f.optional<int32_t>("image_token_id", c.image_token_id);
  c.video_token_id = f.optional<int32_t>("video_token_id", c.video_token_id);
  c.vision_start_token_id = f.optional<int32_t>("vision_start_token_id", c.vision_start_token_id);
  c.vision_end_token_id = f.optional<int32_t>("vision_end_token_id", c.vision_end_token_id);
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
