#include "apps/pio/option_checks.h"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <iostream>
#include <limits>

#include "apps/pio/cli_util.h"
#include "gpu/backend_error.h"
#include "gpu/device.h"
#include "model/offload_plan.h"

namespace pio::cli {

namespace {

// The whole of `text` as a decimal T, or false (empty text, a sign where T has none, a '+',
// spaces, trailing characters, out of T's range).
template <class T>
bool parse_whole(std::string_view text, T& value) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

std::string with_note(std::string range, const std::string& note) {
  return note.empty() ? range : range + " (" + note + ")";
}

// Shortest decimal text that reads back as the same double.
std::string shortest(double v) {
  char buf[32];
  return {buf, std::to_chars(buf, buf + sizeof buf, v).ptr};
}

}  // namespace

int64_t physical_memory_mb() {
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<int64_t>(pages) * page_size >> 20;
}

CLI::Validator integer_in(int64_t lo, int64_t hi, const std::string& note) {
  const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  return CLI::Validator(
      [lo, hi, allowed = with_note(range, note)](std::string& text) -> std::string {
        int64_t v = 0;
        if (!parse_whole(text, v) || v < lo || v > hi) return "'" + text + "' is not an integer in " + allowed;
        text = std::to_string(v);
        return {};
      },
      range);
}

CLI::Validator any_uint64() {
  const std::string range = "0.." + std::to_string(std::numeric_limits<uint64_t>::max());
  return CLI::Validator(
      [range](std::string& text) -> std::string {
        uint64_t v = 0;
        if (!parse_whole(text, v)) return "'" + text + "' is not an integer in " + range;
        text = std::to_string(v);
        return {};
      },
      range);
}

CLI::Validator real_in(double lo, double hi, bool lo_open, const std::string& note) {
  const std::string range = (lo_open ? "(" : "[") + shortest(lo) + ", " + shortest(hi) + "]";
  return CLI::Validator(
      [lo, hi, lo_open, allowed = with_note(range, note)](std::string& text) -> std::string {
        double v = 0;
        if (!parse_whole(text, v) || !std::isfinite(v) || v < lo || (lo_open && v == lo) || v > hi)
          return "'" + text + "' is not a number in " + allowed;
        text = shortest(v);
        return {};
      },
      range);
}

CLI::Validator image_size() {
  const std::string range = "WxH, each side 1.." + std::to_string(kMaxImageSide);
  return CLI::Validator(
      [range](std::string& text) -> std::string {
        const size_t x = text.find('x');
        int64_t w = 0, h = 0;
        if (x == std::string::npos || !parse_whole(std::string_view(text).substr(0, x), w) ||
            !parse_whole(std::string_view(text).substr(x + 1), h) || w < 1 || w > kMaxImageSide || h < 1 ||
            h > kMaxImageSide)
          return "'" + text + "' is not an image size " + range;
        return {};
      },
      range);
}

CLI::Option* add_threads_option(CLI::App* cmd, int& threads, const std::string& what) {
  return cmd->add_option("--threads", threads, what + " (0: all cores)")
      ->default_val(0)
      ->check(integer_in(0, kMaxThreads, "0: all cores"));
}

std::vector<CLI::Option*> add_device_options(CLI::App* cmd, DeviceArgs& args) {
  return {cmd->add_option("--device", args.device,
                          "compute device: cpu, cuda (fails without a usable CUDA device) or auto (CUDA when usable, "
                          "else the CPU, saying why)")
              ->default_val("auto")
              ->check(CLI::IsMember({"cpu", "cuda", "auto"})),
          cmd->add_option("--gpu-layers", args.gpu_layers,
                          "decoder layers on the CUDA device, the rest on the CPU: a count, or auto (as many as its "
                          "free memory holds)")
              ->default_val("auto")
              ->check(CLI::IsMember({"auto"}) | CLI::Range(0, kMaxGpuLayers)),
          cmd->add_option("--gpu-vision", args.gpu_vision,
                          "the vision tower on the CUDA device (on), on the CPU beside it (off), or on the device "
                          "when its free memory holds it after the decoder (auto)")
              ->default_val("auto")
              ->check(CLI::IsMember({"on", "off", "auto"})),
          cmd->add_flag("--deterministic", args.deterministic,
                        "on a CUDA device, prefill through the fixed-order GEMM instead of cuBLAS, so every "
                        "answer has the same bits whatever shares its batch (slower prefill)")};
}

namespace {

// The option that asks for work on a device (--gpu-vision on, --gpu-layers N > 0), or "".
std::string device_request(const DeviceArgs& args) {
  if (args.gpu_vision == "on") return "--gpu-vision on";
  if (args.gpu_layers != "auto" && args.gpu_layers != "0") return "--gpu-layers " + args.gpu_layers;
  return "";
}

}  // namespace

void check_device_args(const DeviceArgs& args) {
  const std::string request = device_request(args);
  if (args.device == "cpu" && !request.empty())
    throw CLI::ValidationError(request + " needs --device cuda or auto, not cpu");
}

ComputeBackends::ComputeBackends(const DeviceArgs& args, int threads, bool pin, std::string program)
    : args_(args), threads_(threads), pin_(pin), program_(std::move(program)) {
  check_device_args(args);
  BackendChoice choice = make_backend(parse_device_kind(args.device), threads, pin, args.deterministic);
  if (!choice.log_line.empty()) std::cerr << program_ << ": " << choice.log_line << "\n" << std::flush;
  device_ = std::move(choice.backend);
}

LayerSplit ComputeBackends::plan(const ModelWeights& weights, int64_t kv_bytes) {
  if (device_->shares_host_memory()) {
    if (const std::string request = device_request(args_); !request.empty())
      throw BackendError(request + " needs a CUDA device, and this runs on the CPU");
    return layer_split();
  }
  const Backend::MemoryUse use = device_->device_memory();
  const OffloadSizes sizes = offload_sizes(weights, kv_bytes);
  const int64_t free_bytes = static_cast<int64_t>(use.total_bytes - use.used_bytes) - int64_t{kCudaMinFreeBytes};
  const OffloadPlan p = plan_offload(sizes, free_bytes, args_.gpu_layers, args_.gpu_vision);
  // A count or `on` asked for explicitly may not fit: say so now, not as a failed upload later.
  if (!fits(p, free_bytes))
    throw BackendError("the device cannot hold what --gpu-layers " + args_.gpu_layers + " --gpu-vision " + args_.gpu_vision +
                       " asks: " + describe(p, sizes, free_bytes) +
                       (args_.gpu_layers == "auto" ? " (--gpu-vision auto puts the tower where it fits)"
                                                   : " (--gpu-layers auto takes what fits)"));
  gpu_layers_ = p.gpu_layers;
  vision_on_device_ = p.vision_on_device;
  if (gpu_layers_ < sizes.layers() || (sizes.vision_bytes > 0 && !vision_on_device_))
    host_ = make_cpu_backend(threads_, pin_);
  std::cerr << program_ << ": offload: " << describe(p, sizes, free_bytes) << "\n" << std::flush;
  return layer_split();
}

Backend* ComputeBackends::fallback() {
  if (device_->shares_host_memory()) return nullptr;
  if (host_) return host_.get();
  if (!fallback_) fallback_ = make_cpu_backend(threads_, pin_);
  return fallback_.get();
}

CLI::Option* add_weights_option(CLI::App* cmd, std::string& weights) {
  return cmd->add_option("--weights", weights,
                         "weight precision: auto (the checkpoint's), bf16, q8 (8-bit blocks) or q4 (4-bit groups); "
                         "packed once and cached")
      ->default_val("auto")
      ->check(CLI::IsMember({"auto", "bf16", "q8", "q4"}));
}

std::string default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/pio";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/pio";
  return "pio-cache";
}

CLI::Option* add_mmap_flags(CLI::App* cmd, bool& map_pack) {
  return cmd->add_flag("--mmap,!--no-mmap", map_pack,
                       std::string("--mmap: keep the cached packed weights mapped (shared between processes, faster "
                                   "start); --no-mmap: read them into private memory in huge pages (batched decode "
                                   "runs faster where file mappings get 4 KiB pages). Default ") +
                           (map_pack ? "--mmap" : "--no-mmap"));
}

ModelOptions model_options(const std::string& weights, const std::string& cache_dir, bool map_pack) {
  ModelOptions o;
  o.map_pack = map_pack;
  if (!parse_weight_scheme(weights, o.weights)) throw std::invalid_argument("--weights: unknown scheme '" + weights + "'");
  if (!cache_dir.empty()) o.pack_cache_dir = std::filesystem::path(cache_dir) / "weights";
  return o;
}

CLI::Option* add_kv_cache_option(CLI::App* cmd, int64_t& mb) {
  return cmd->add_option("--kv-cache-mb", mb, "most KV cache memory in MiB (at most the machine's memory)")
      ->default_val(kDefaultKvBudgetMb)
      ->check(integer_in(1, physical_memory_mb(), "MiB, at most the machine's memory"));
}

namespace {
// The KV dtype --kv-dtype names (auto: the checkpoint's, `weights`), or the refusal's text.
std::string parse_kv_dtype_option(const std::string& text, KvDType weights, KvDType& out) {
  out = weights;
  if (text == "auto" || parse_kv_dtype(text, out)) return {};
  return "'" + text + "' is not one of auto, bf16, f16, q8, f32";
}
}  // namespace

CLI::Option* add_kv_dtype_option(CLI::App* cmd, std::string& kv_dtype) {
  return cmd->add_option("--kv-dtype", kv_dtype, "KV cache element type: auto (the checkpoint's weight dtype), bf16, f16, q8 (int8, a scale per head row) or f32")
      ->default_val("auto")
      ->check(CLI::Validator(
          [](std::string& text) {
            KvDType unused;
            return parse_kv_dtype_option(text, KvDType::F32, unused);
          },
          "auto|bf16|f16|q8|f32"));
}

KvCacheShape kv_shape(KvCacheShape shape, const std::string& kv_dtype) {
  const std::string refused = parse_kv_dtype_option(kv_dtype, shape.dtype, shape.dtype);
  if (!refused.empty()) throw CLI::ValidationError("--kv-dtype", refused);
  return shape;
}

CLI::Option* add_model_option(CLI::App* cmd, std::string& dir, const std::string& description) {
  return cmd->add_option("--model", dir, description)->check(CLI::ExistingDirectory);
}

CLI::Option* add_max_tokens_option(CLI::App* cmd, int& max_tokens, int default_value) {
  return cmd->add_option("--max-tokens", max_tokens, "most tokens to generate (prompt + these fit the model's context)")
      ->default_val(default_value)
      ->check(integer_in(1, kMaxTokens));
}

void add_sampling_options(CLI::App* cmd, SamplingOptions& sampling) {
  cmd->add_option("--temperature", sampling.temperature, "0: greedy")
      ->default_val(0.0f)
      ->check(real_in(0, kMaxTemperature, false, "0: greedy"));
  cmd->add_option("--top-p", sampling.top_p, "nucleus sampling mass")->default_val(1.0f)->check(real_in(0, 1, true));
  cmd->add_option("--top-k", sampling.top_k, "0: no limit")->default_val(0)->check(integer_in(0, kMaxTopK, "0: no limit"));
  cmd->add_option_function<uint64_t>(
         "--seed", [&sampling](const uint64_t& seed) { sampling.seed = seed; },
         "sampling seed (default: a fresh one per request; --verbose prints it)")
      ->check(any_uint64());
  cmd->add_option("--min-p", sampling.min_p, "keep ids at least this times as likely as the top one (0: off)")
      ->default_val(0.0f)
      ->check(real_in(0, 1, false, "0: off"));
  cmd->add_option("--repetition-penalty", sampling.repetition_penalty, "HF repetition penalty over prompt and answer")
      ->default_val(1.0f)
      ->check(real_in(0, 10, true, "1: off"));
  cmd->add_option("--presence-penalty", sampling.presence_penalty, "OpenAI presence penalty")
      ->default_val(0.0f)
      ->check(real_in(-2, 2, false, "0: off"));
  cmd->add_option("--frequency-penalty", sampling.frequency_penalty, "OpenAI frequency penalty")
      ->default_val(0.0f)
      ->check(real_in(-2, 2, false, "0: off"));
}

CLI::Validator host_port() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const size_t colon = text.rfind(':');
        if (colon == std::string::npos || colon == 0) return "expected HOST:PORT, got '" + text + "'";
        const std::string port = text.substr(colon + 1);
        if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
            std::stol(port) < 1 || std::stol(port) > 65535)
          return "the port of '" + text + "' is not in 1..65535";
        return {};
      },
      "HOST:PORT");
}

std::pair<std::string, uint16_t> split_host_port(const std::string& text) {
  const size_t colon = text.rfind(':');
  return {text.substr(0, colon), static_cast<uint16_t>(std::stoi(text.substr(colon + 1)))};
}

std::vector<CLI::Option*> add_tls_options(CLI::App* cmd, TlsFiles& tls) {
  auto* cert = cmd->add_option("--tls-cert", tls.cert, "mutual TLS on the client-API port: this end's PEM certificate")
                   ->check(CLI::ExistingFile);
  auto* key = cmd->add_option("--tls-key", tls.key, "mutual TLS: the PEM private key of --tls-cert")->check(CLI::ExistingFile);
  auto* ca = cmd->add_option("--tls-ca", tls.ca, "mutual TLS: the PEM certificate of the CA that signs every peer (the cluster's own)")
                 ->check(CLI::ExistingFile);
  cert->needs(key)->needs(ca);
  key->needs(cert)->needs(ca);
  ca->needs(cert)->needs(key);
  return {cert, key, ca};
}

CLI::Option* add_max_pixels_option(CLI::App* cmd, int64_t& max_pixels) {
  return cmd->add_option("--max-pixels", max_pixels,
                         "largest resized image in pixels (default: preprocessor_config.json's size.longest_edge)")
      ->check(integer_in(1, kMaxPixels));
}

namespace {

constexpr int kBlock = 16;  // a one-sequence cache's KV block

// The KV memory a one-sequence cache may take: budget_mb, or the machine's memory when 0.
struct KvBudget {
  KvCacheShape shape;
  int64_t block_bytes = 0;
  bool machine = false;
  int64_t limit_mb = 0;
  int64_t blocks() const { return (limit_mb << 20) / block_bytes; }  // limit_mb << 20 fits: at most the machine's memory
};

KvBudget kv_budget(const TextModel& model, int64_t budget_mb, const std::string& kv_dtype) {
  KvBudget b;
  b.shape = kv_shape(model.kv_shape(), kv_dtype);
  b.block_bytes = KvStorage::bytes_per_block(b.shape, kBlock);
  b.machine = budget_mb == 0;
  b.limit_mb = b.machine ? physical_memory_mb() : budget_mb;
  return b;
}

}  // namespace

int64_t new_tokens_that_fit(const TextModel& model, int64_t prompt_tokens, int64_t budget_mb,
                            const std::string& kv_dtype) {
  int64_t room = kv_budget(model, budget_mb, kv_dtype).blocks() * kBlock - prompt_tokens;
  if (const int64_t context = model.config().max_position_embeddings; context > 0)
    room = std::min(room, context - prompt_tokens);
  return std::max<int64_t>(0, room);
}

PagedKvCache sequence_kv_cache(const TextModel& model, int64_t prompt_tokens, int64_t new_tokens,
                               const std::string& length_option, int64_t budget_mb, const std::string& kv_dtype) {
  const int64_t tokens = prompt_tokens + new_tokens;  // both far below 2^62: no overflow
  const std::string sequence =
      std::to_string(prompt_tokens) + " prompt + " + std::to_string(new_tokens) + " new tokens";
  const int64_t context = model.config().max_position_embeddings;
  if (context > 0 && tokens > context)
    throw CLI::ValidationError(length_option, sequence + " exceed the model's context of " + std::to_string(context) +
                                                  " tokens (max_position_embeddings)");
  const KvBudget b = kv_budget(model, budget_mb, kv_dtype);
  const int64_t blocks = (tokens + kBlock - 1) / kBlock;
  if (blocks > b.blocks()) {
    const int64_t need_mb = static_cast<int64_t>(std::ceil(static_cast<double>(blocks) * b.block_bytes / (1 << 20)));
    throw CLI::ValidationError(b.machine ? length_option : "--kv-cache-mb",
                               sequence + " need " + std::to_string(need_mb) + " MiB of KV cache, more than " +
                                   (b.machine ? "the machine's " : "the budget of ") + std::to_string(b.limit_mb) +
                                   " MiB");
  }
  return PagedKvCache(model.kv_layers(), b.shape, blocks * b.block_bytes, kBlock);
}

}  // namespace pio::cli
