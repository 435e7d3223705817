#include "model/checkpoint_maker.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gpu/cpu/thread_pool.h"
#include "gpu/kernel_math.h"
#include "model/errors.h"

namespace pio {
namespace {

constexpr int64_t kChunk = 1 << 16;  // elements per independently seeded chunk

// SplitMix64's finalizer: a bijection of 64-bit words that scatters nearby inputs.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t splitmix(uint64_t& state) { return mix(state += 0x9e3779b97f4a7c15ull); }

// Where a chunk's stream starts. SplitMix64 steps its state by a constant, so starting points
// that also differ by multiples of it (base + chunk * step) would make each chunk's stream the
// previous one's shifted by a draw, repeating values across the tensor; mixed starting points
// are unrelated instead.
uint64_t chunk_state(uint64_t base, int64_t chunk) { return mix(base + mix(static_cast<uint64_t>(chunk) + 1)); }

uint64_t name_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

bool is_norm_weight(const std::string& name) {
  const auto ends = [&](const char* suffix) {
    const size_t n = std::strlen(suffix);
    return name.size() >= n && name.compare(name.size() - n, n, suffix) == 0;
  };
  return ends("norm.weight") || ends("layernorm.weight") || ends("norm1.weight") || ends("norm2.weight");
}

// Fills [begin, end) of one tensor: chunk-seeded normals (Box-Muller), so any split gives the same values.
void fill_range(uint64_t seed, const std::string& name, int64_t begin, int64_t end, float* out) {
  const bool norm = is_norm_weight(name);
  const uint64_t base = seed * 0x2545f4914f6cdd1dull ^ name_hash(name);
  for (int64_t chunk = begin / kChunk; chunk * kChunk < end; ++chunk) {
    uint64_t state = chunk_state(base, chunk);
    const int64_t first = chunk * kChunk;
    for (int64_t i = first; i < first + kChunk && i < end; i += 2) {
      const double u1 = (static_cast<double>(splitmix(state) >> 11) + 1.0) * 0x1.0p-53;
      const double u2 = static_cast<double>(splitmix(state) >> 11) * 0x1.0p-53;
      const double r = std::sqrt(-2.0 * std::log(u1));
      const double pair[2] = {r * std::cos(2 * M_PI * u2), r * std::sin(2 * M_PI * u2)};
      for (int j = 0; j < 2; ++j) {
        if (i + j < begin || i + j >= end) continue;
        out[i + j - begin] = static_cast<float>((norm ? 1.0 : 0.0) + 0.02 * pair[j]);
      }
    }
  }
}

void store(DType dtype, const float* src, int64_t n, unsigned char* dst) {
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == DType::F32) {
      std::memcpy(dst + 4 * i, &src[i], 4);
    } else {
      const uint16_t h = dtype == DType::BF16 ? math::f32_to_bf16(src[i]) : math::f32_to_f16(src[i]);
      std::memcpy(dst + 2 * i, &h, 2);
    }
  }
}

void write_json(const std::filesystem::path& path, const nlohmann::ordered_json& j) {
  std::ofstream out(path);
  if (!out) throw ModelError(path.string() + ": cannot write");
  out << j.dump(2) << "\n";
}

nlohmann::ordered_json generation_config() {
  return {{"bos_token_id", 151643}, {"pad_token_id", 151643}, {"do_sample", true},
          {"eos_token_id", {151645, 151643}}, {"top_k", 20}, {"top_p", 0.8},
          {"repetition_penalty", 1.0}, {"temperature", 0.7}, {"transformers_version", "4.56.0"}};
}

nlohmann::ordered_json preprocessor_config(const VisionConfig& v) {
  return {{"size", {{"longest_edge", 16777216}, {"shortest_edge", 65536}}},
          {"patch_size", v.patch_size},
          {"temporal_patch_size", v.temporal_patch_size},
          {"merge_size", v.spatial_merge_size},
          {"image_mean", {0.5, 0.5, 0.5}},
          {"image_std", {0.5, 0.5, 0.5}},
          {"processor_class", "Qwen3VLProcessor"},
          {"image_processor_type", "Qwen2VLImageProcessorFast"}};
}

DType dtype_from_config(const std::string& s) {
  if (s == "float32") return DType::F32;
  if (s == "float16") return DType::F16;
  return DType::BF16;
}

std::string config_dtype(DType t) {
  return t == DType::F32 ? "float32" : t == DType::F16 ? "float16" : "bfloat16";
}

}  // namespace

ModelConfig preset_config(const std::string& preset) {
  ModelConfig c;
  TextConfig& t = c.text;
  VisionConfig v;
  if (preset == "2b") {
    t = TextConfig{151936, 2048, 6144, 28, 16, 8, 128, 1e-6, 5000000.0, {24, 20, 20}, true, 262144, "bfloat16"};
    v = VisionConfig{24, 1024, 16, 4096, 3, 16, 2, 2, 2048, 2304, {5, 11, 17}, "gelu_pytorch_tanh"};
  } else if (preset == "tiny") {
    // The real vocabulary (so the real tokenizer works), toy widths. head_dim 16 with 4 heads
    // differs from hidden/heads = 8, and 4 query heads share 2 KV heads.
    t = TextConfig{151936, 32, 64, 4, 4, 2, 16, 1e-6, 5000000.0, {4, 2, 2}, true, 262144, "bfloat16"};
    v = VisionConfig{4, 32, 2, 64, 3, 16, 2, 2, 32, 64, {1, 2, 3}, "gelu_pytorch_tanh"};
  } else {
    throw ModelError("unknown preset '" + preset + "' (choose tiny or 2b)");
  }
  c.vision = v;
  return c;
}

std::vector<TensorSpec> checkpoint_tensors(const ModelConfig& c, DType dtype) {
  std::vector<TensorSpec> out;
  const auto add = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back(TensorSpec{std::move(name), dtype, std::move(shape)});
  };
  const TextConfig& t = c.text;
  const std::string p = "model.language_model.";
  const int64_t h = t.hidden_size, qd = int64_t{t.num_attention_heads} * t.head_dim,
                kvd = int64_t{t.num_key_value_heads} * t.head_dim;
  add(p + "embed_tokens.weight", {t.vocab_size, h});
  for (int i = 0; i < t.num_hidden_layers; ++i) {
    const std::string l = p + "layers." + std::to_string(i) + ".";
    add(l + "input_layernorm.weight", {h});
    add(l + "self_attn.q_proj.weight", {qd, h});
    add(l + "self_attn.k_proj.weight", {kvd, h});
    add(l + "self_attn.v_proj.weight", {kvd, h});
    add(l + "self_attn.o_proj.weight", {h, qd});
    add(l + "self_attn.q_norm.weight", {t.head_dim});
    add(l + "self_attn.k_norm.weight", {t.head_dim});
    add(l + "post_attention_layernorm.weight", {h});
    add(l + "mlp.gate_proj.weight", {t.intermediate_size, h});
    add(l + "mlp.up_proj.weight", {t.intermediate_size, h});
    add(l + "mlp.down_proj.weight", {h, t.intermediate_size});
  }
  add(p + "norm.weight", {h});
  if (!t.tie_word_embeddings) add("lm_head.weight", {t.vocab_size, h});
  if (!c.vision) return out;

  const VisionConfig& v = *c.vision;
  const std::string q = "model.visual.";
  const int64_t vh = v.hidden_size, merged = vh * v.spatial_merge_size * v.spatial_merge_size;
  add(q + "patch_embed.proj.weight", {vh, v.in_channels, v.temporal_patch_size, v.patch_size, v.patch_size});
  add(q + "patch_embed.proj.bias", {vh});
  add(q + "pos_embed.weight", {v.num_position_embeddings, vh});
  for (int j = 0; j < v.depth; ++j) {
    const std::string b = q + "blocks." + std::to_string(j) + ".";
    for (const char* n : {"norm1", "norm2"}) {
      add(b + n + ".weight", {vh});
      add(b + n + ".bias", {vh});
    }
    add(b + "attn.qkv.weight", {3 * vh, vh});
    add(b + "attn.qkv.bias", {3 * vh});
    add(b + "attn.proj.weight", {vh, vh});
    add(b + "attn.proj.bias", {vh});
    add(b + "mlp.linear_fc1.weight", {v.intermediate_size, vh});
    add(b + "mlp.linear_fc1.bias", {v.intermediate_size});
    add(b + "mlp.linear_fc2.weight", {vh, v.intermediate_size});
    add(b + "mlp.linear_fc2.bias", {vh});
  }
  const auto merger = [&](const std::string& m, int64_t norm_dim) {
    add(m + "norm.weight", {norm_dim});
    add(m + "norm.bias", {norm_dim});
    add(m + "linear_fc1.weight", {merged, merged});
    add(m + "linear_fc1.bias", {merged});
    add(m + "linear_fc2.weight", {v.out_hidden_size, merged});
    add(m + "linear_fc2.bias", {v.out_hidden_size});
  };
  merger(q + "merger.", vh);  // normalises each patch before the 2x2 concat
  for (size_t k = 0; k < v.deepstack_visual_indexes.size(); ++k)
    merger(q + "deepstack_merger_list." + std::to_string(k) + ".", merged);  // after the concat
  return out;
}


void write_random_checkpoint(const ModelConfig& cfg, uint64_t seed, const std::filesystem::path& out,
                             uint64_t max_shard_bytes) {
  const DType dtype = dtype_from_config(cfg.text.dtype);
  std::filesystem::create_directories(out);
  cpu::ThreadPool pool(0);
  std::vector<float> values;
  write_checkpoint_tensors(out, checkpoint_tensors(cfg, dtype), max_shard_bytes,
                           [&](const TensorSpec& t, std::vector<unsigned char>& bytes) {
                             const auto n = static_cast<int64_t>(t.bytes() / dtype_size(t.dtype));
                             values.resize(static_cast<size_t>(n));
                             pool.run((n + kChunk - 1) / kChunk, [&](int64_t c, int) {
                               const int64_t b = c * kChunk, e = std::min(n, b + kChunk);
                               fill_range(seed, t.name, b, e, values.data() + b);
                               store(t.dtype, values.data() + b, e - b, bytes.data() + b * dtype_size(t.dtype));
                             });
                           });
  write_json(out / "config.json", to_hf_json(cfg));
  write_json(out / "generation_config.json", generation_config());
  if (cfg.vision) write_json(out / "preprocessor_config.json", preprocessor_config(*cfg.vision));
}

void make_checkpoint(const CheckpointRequest& req) {
  ModelConfig cfg = preset_config(req.preset);
  if (req.dtype) cfg.text.dtype = config_dtype(*req.dtype);
  if (req.text_only) cfg.vision.reset();
  constexpr const char* kTokenizerFiles[] = {"tokenizer.json", "tokenizer_config.json"};
  // Checked before anything is written: a missing tokenizer leaves no checkpoint without one.
  if (!req.tokenizer_source.empty())
    for (const char* f : kTokenizerFiles)
      if (const auto src = req.tokenizer_source / f; !std::filesystem::exists(src))
        throw ModelError(src.string() + " not found: run scripts/setup, or pass --tokenizer-from DIR / --no-tokenizer");
  write_random_checkpoint(cfg, req.seed, req.out, req.max_shard_bytes);
  if (!req.tokenizer_source.empty())
    for (const char* f : kTokenizerFiles)
      std::filesystem::copy_file(req.tokenizer_source / f, req.out / f, std::filesystem::copy_options::overwrite_existing);
}

}  // namespace pio
