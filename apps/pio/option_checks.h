// The range of every numeric option of `pio`, checked in one place: CLI11 validators that
// refuse a value before the subcommand does anything, naming the option and what it allows
// ("--threads: '100000' is not an integer in 0..1024 (0: all cores)"), the options several
// subcommands share, and the checks that need the loaded model (its context, KV memory).
// A refused option exits with status 2, before any file is read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "actors/tls.h"
#include "gpu/backend.h"
#include "model/kv_cache.h"
#include "model/model_weights.h"
#include "model/sampler.h"
#include "model/text_model.h"

namespace pio::cli {

constexpr int kMaxThreads = 1024;
// Token counts (--max-tokens, --gen-tokens, --prompt-tokens) before the model's own context
// (max_position_embeddings) bounds them once it is loaded.
constexpr int64_t kMaxTokens = int64_t{1} << 20;
constexpr int kMaxRuns = 1000;
constexpr int kMaxGpuLayers = 4096;  // --gpu-layers, before the checkpoint's own layer count bounds it
constexpr int kMaxTopK = 1 << 20;
constexpr double kMaxTemperature = 100;
constexpr int64_t kMaxPixels = int64_t{1} << 28;  // 16384 x 16384
constexpr int64_t kMaxImageSide = 8192;            // bench's synthetic images
constexpr int64_t kMaxShardMb = int64_t{1} << 20;  // 1 TiB

// The machine's physical memory in MiB (sysconf), the most any memory budget may ask for.
int64_t physical_memory_mb();

// A decimal integer in [lo, hi]; `note` explains special values ("0: all cores"). The option's
// text is rewritten in canonical form, so CLI11 never reads "010" as octal.
CLI::Validator integer_in(int64_t lo, int64_t hi, const std::string& note = "");
// Any decimal integer in [0, 2^64 - 1] (a seed); "-1" is refused rather than wrapped.
CLI::Validator any_uint64();
// A finite decimal number in [lo, hi], or (lo, hi] when lo_open; refuses nan and inf.
CLI::Validator real_in(double lo, double hi, bool lo_open = false, const std::string& note = "");
// "HOST:PORT" of a node (port 1..65535).
CLI::Validator host_port();
// Splits a checked "HOST:PORT".
std::pair<std::string, uint16_t> split_host_port(const std::string& text);

// "WxH" with both sides in 1..kMaxImageSide.
CLI::Validator image_size();

// The options several subcommands share, each declared once with its range.
CLI::Option* add_threads_option(CLI::App* cmd, int& threads, const std::string& what = "compute threads");
CLI::Option* add_kv_cache_option(CLI::App* cmd, int64_t& mb);
// Where a command's runners compute: --device cpu|cuda|auto (gpu/device.h), --gpu-layers
// N|auto (the first N decoder layers on the device, the rest on the CPU), --gpu-vision
// on|off|auto (the vision tower on the device, or on the CPU beside it) and --deterministic
// (fixed-order prefill GEMMs on a device; the CPU always computes in a fixed order).
struct DeviceArgs {
  std::string device = "auto";
  std::string gpu_layers = "auto";
  std::string gpu_vision = "auto";
  bool deterministic = false;
};
// Adds the four options (defaults auto, auto, auto, off); returns them.
std::vector<CLI::Option*> add_device_options(CLI::App* cmd, DeviceArgs& args);
// Throws CLI::ValidationError for --gpu-layers or --gpu-vision on with --device cpu.
void check_device_args(const DeviceArgs& args);

// The backends a command's runners compute on, as DeviceArgs decide.
class ComputeBackends {
 public:
  ComputeBackends() = default;
  // The --device backend, the CPU one with `threads` threads (pinned when `pin`). Writes its log
  // line to stderr as "<program>: device: ..." (the CUDA device, or why auto runs on the CPU;
  // nothing for cpu). Throws BackendError for cuda without a usable device, CLI::ValidationError
  // as check_device_args.
  ComputeBackends(const DeviceArgs& args, int threads, bool pin, std::string program);

  // Decides, once the weights are loaded (options_for(device())), how many decoder layers and
  // whether the vision tower run on a device, and makes the CPU backend for what stays on the
  // CPU. auto fills the device's free memory less kCudaMinFreeBytes: layers first (each with
  // its share of kv_bytes), the embedding and lm_head when every layer fits, then the tower.
  // Writes one line saying what it chose and why. Throws BackendError for --gpu-layers or
  // --gpu-vision on without a device or beyond its free memory, ModelError for --gpu-layers
  // beyond the decoder's layers.
  // Returns layer_split().
  LayerSplit plan(const ModelWeights& weights, int64_t kv_bytes);

  Backend& device() const { return *device_; }
  // The text runner's split (everything on device() before plan() or without a device).
  LayerSplit layer_split() const { return {device_.get(), host_.get(), gpu_layers_}; }
  // Where the vision tower runs.
  Backend& vision() const { return vision_on_device_ || !host_ ? *device_ : *host_; }
  // On a device: the CPU backend that takes over when the device fails (EngineSettings::fallback),
  // the one beside it when plan() left work there, else one made now whose threads sleep until
  // then; null on the CPU.
  Backend* fallback();

 private:
  DeviceArgs args_;
  int threads_ = 0;
  bool pin_ = false;
  std::string program_;
  std::unique_ptr<Backend> device_;
  std::unique_ptr<Backend> host_;      // the CPU beside a device, when plan() left work there
  std::unique_ptr<Backend> fallback_;  // the CPU for a failed device, when host_ is none
  int gpu_layers_ = -1;
  bool vision_on_device_ = true;
};

// --kv-dtype auto|bf16|f16|q8|f32: the KV cache's element type (gpu/kv_dtype.h); auto, the
// default, is the checkpoint's weight dtype, as transformers keeps its cache in the model's.
CLI::Option* add_kv_dtype_option(CLI::App* cmd, std::string& kv_dtype);
// The checkpoint's KV cache shape (kv_cache_shape) in the dtype a checked --kv-dtype value names.
KvCacheShape kv_shape(KvCacheShape checkpoint_shape, const std::string& kv_dtype);
CLI::Option* add_max_tokens_option(CLI::App* cmd, int& max_tokens, int default_value);
// --model DIR: a directory that exists (else exit 2 saying so, before anything is read).
CLI::Option* add_model_option(CLI::App* cmd, std::string& dir, const std::string& description = "model directory");
// --temperature [0, 100] (0: greedy), --top-p (0, 1], --top-k 0..2^20 (0: no limit), --seed
// any 64-bit value, --min-p [0, 1], --repetition-penalty (0, 10]: the ranges transformers'
// logits processors accept (they refuse nan); --presence-penalty and --frequency-penalty
// [-2, 2] as OpenAI's API.
void add_sampling_options(CLI::App* cmd, SamplingOptions& sampling);
// --weights auto|bf16|q8|q4 (model/packed_weights.h).
CLI::Option* add_weights_option(CLI::App* cmd, std::string& weights);
// $XDG_CACHE_HOME/pio, else ~/.cache/pio, else ./pio-cache.
std::string default_cache_dir();
// --mmap / --no-mmap: keep the cached packed weights mapped, or read them into private memory in
// huge pages (model/huge_pages.h). map_pack's value on entry is the command's default.
CLI::Option* add_mmap_flags(CLI::App* cmd, bool& map_pack);
// The model options of a checked --weights value, packed weights cached in cache_dir/weights
// (cache_dir empty: packed in memory), mapped or (map_pack false, --no-mmap) read into memory.
ModelOptions model_options(const std::string& weights, const std::string& cache_dir = default_cache_dir(),
                           bool map_pack = true);
// --tls-cert, --tls-key, --tls-ca: existing files, all three or none; mutual TLS on the
// client-API port (actors/tls.h). Returns the three options.
std::vector<CLI::Option*> add_tls_options(CLI::App* cmd, TlsFiles& tls);
// --max-pixels 1..2^28; 0 (the option absent) leaves preprocessor_config.json's limit.
CLI::Option* add_max_pixels_option(CLI::App* cmd, int64_t& max_pixels);

// The KV cache for one sequence: the prompt's tokens and up to `new_tokens` more, sized to
// exactly that (so a large budget costs nothing). Refuses with CLI::ValidationError a sequence
// longer than the model's context (max_position_embeddings, when the config gives it), naming
// `length_option`, or one whose KV cache needs more than `budget_mb` (naming --kv-cache-mb)
// or, when budget_mb is 0, more than the machine's memory (naming `length_option`).
// vLLM refuses prompt + max_tokens beyond the context in the same way.
PagedKvCache sequence_kv_cache(const TextModel& model, int64_t prompt_tokens, int64_t new_tokens,
                               const std::string& length_option, int64_t budget_mb, const std::string& kv_dtype);
// The most new tokens sequence_kv_cache accepts after a prompt of prompt_tokens (0 when none):
// what the model's context and the KV budget leave, for a default --max-tokens lowered to fit.
int64_t new_tokens_that_fit(const TextModel& model, int64_t prompt_tokens, int64_t budget_mb,
                            const std::string& kv_dtype);

}  // namespace pio::cli
