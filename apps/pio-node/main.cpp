// pio-node: loads a checkpoint, starts the actor runtime (tokenizer and preprocessor pools,
// engine group, profiler, supervisor) and serves clients (`pio chat --node`, pio::Client) on the
// client-API port, and with --http-port the OpenAI-compatible HTTP API (http/gateway.h).
// Roles: `all` (default) is all of it in one process; `frontend` is the client-facing side and
// the router, without weights, which workers of other processes join on its client-API port;
// `worker` is one engine group that joins a front end (--join HOST:PORT) and serves its jobs.
// The client-API port is plain on loopback; with --tls-cert/--tls-key/--tls-ca it takes only
// peers whose certificate the CA signed (mutual TLS), which it must beyond loopback (or
// --insecure) and with --api-key (else it stays closed).
// SIGINT/SIGTERM: stop admitting, finish what runs (bounded by --drain-timeout), exit 0.
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <tuple>

#include <CLI/CLI.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/node.h"
#include "actors/worker.h"
#include "actors/plugin.h"
#include "apps/pio-node/basp_guard.h"
#include "apps/pio-node/descriptors.h"
#include "apps/pio-node/port_probe.h"
#include "apps/pio/option_checks.h"
#include "http/gateway.h"
#include "model/errors.h"
#include "model/generation_defaults.h"
#include "model/image/preprocessor_config.h"
#include "serving/profiler.h"
#include "storage/fingerprint.h"
#include "storage/tiered_cache.h"

namespace {

// The per-image pixel budget of a node without --max-pixels: HF's own limit (16.7 M pixels)
// costs minutes of vision encoding on a CPU. At this budget (640x640, 400 image tokens) the 2B
// encoder took 52.7 s on 2 threads of this project's VM under load (README, Faults and limits).
constexpr int64_t kDefaultMaxPixels = 640 * 640;

struct Args {
  std::string model, host = "127.0.0.1", policy = "fcfs", kv_dtype = "auto";
  std::string role = "all", join, router = "prefix_affinity";
  pio::cli::DeviceArgs device;
  std::vector<std::string> plugins;
  int port = 7070, threads = 0, max_sequences = 32, tokenizer_workers = 0, preprocessor_workers = 0;
  int64_t max_batch_tokens = 256, kv_memory_mb = 1024, memory_soft_mb = 0, memory_hard_mb = 0, max_pixels = 0;
  int64_t max_queued = 256;
  bool pin = false, insecure = false, no_kv_replicas = false;
  pio::TlsFiles tls;
  double target_step_ms = 250, ageing_s = 10, drain_timeout_s = 30;
  // The HTTP gateway (off unless --http-port).
  int http_port = -1, max_images = 8, max_connections = 64, http_max_tokens = 4096;
  std::string http_host = "127.0.0.1", api_key, allowed_media_dir;
  std::string generation_config = "auto", override_generation_config;
  std::vector<std::string> cors_origins, served_model_names;
  int64_t max_body_mb = 64, max_image_pixels = int64_t(1) << 26;
  double request_timeout_s = 600;
  double http_read_timeout_s = 30;
  std::string cache_dir = pio::cli::default_cache_dir(), weights = "auto";
  int64_t cache_hot_mb = 512, cache_warm_mb = 2048, cache_cold_mb = 8192;
  bool no_cache = false;
  // A node streams every weight at each batched decode step: private huge pages by default.
  bool map_pack = false;
};

void add_options(CLI::App& app, Args& a) {
  using namespace pio::cli;
  app.set_config("--config", "", "read options from this TOML or INI file (command-line flags win)");
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key is an error, as a misspelt flag is
  app.add_option("--model", a.model, "model directory (Hugging Face layout)")->required()->check(CLI::ExistingDirectory);
  app.add_option("--role", a.role, "all: one process; frontend: clients and routing, no weights; worker: an engine group that joins a frontend")
      ->default_val("all")->check(CLI::IsMember({"all", "frontend", "worker"}));
  app.add_option("--join", a.join, "worker: the frontend's client-API address, HOST:PORT");
  app.add_option("--router", a.router, "frontend: how requests are placed on workers: round_robin, least_loaded, prefix_affinity")
      ->default_val("prefix_affinity")->check(CLI::IsMember({"round_robin", "least_loaded", "prefix_affinity"}));
  app.add_flag("--no-kv-replicas", a.no_kv_replicas,
               "frontend: do not copy each request's KV blocks to a second worker (a request moved off a lost worker then prefills its prompt and output again)");
  app.add_option("--host", a.host, "address to listen on (loopback unless told otherwise)")->default_val("127.0.0.1");
  app.add_option("--port", a.port, "port (0: any free port)")->default_val(7070)->check(integer_in(0, 65535));
  add_tls_options(&app, a.tls);
  app.add_flag("--insecure", a.insecure, "serve the client-API port beyond loopback without TLS (anyone who reaches it can use the node)");
  add_threads_option(&app, a.threads);
  app.add_flag("--pin", a.pin, "bind each compute thread to its own core");
  add_device_options(&app, a.device);
  add_weights_option(&app, a.weights);
  add_mmap_flags(&app, a.map_pack);
  app.add_option("--policy", a.policy, "scheduling policy: fcfs, priority, fair, or one a plug-in adds")->default_val("fcfs");
  app.add_option("--plugin", a.plugins, "shared library with pio_plugin_register (repeatable; see actors/plugin.h)");
  app.add_option("--ageing-s", a.ageing_s, "priority policy: seconds of waiting worth one priority level")
      ->default_val(10)->check(real_in(0, 1e6, true));
  app.add_option("--max-batch-tokens", a.max_batch_tokens, "most tokens computed in one step (the adaptive budget's ceiling)")
      ->default_val(256)->check(integer_in(1, 1 << 16));
  app.add_option("--max-sequences", a.max_sequences, "most sequences running at once")
      ->default_val(32)->check(integer_in(1, 4096));
  app.add_option("--target-step-ms", a.target_step_ms, "adaptive batching: the step latency aimed at")
      ->default_val(250)->check(real_in(0, 60000, true));
  app.add_option("--kv-memory", a.kv_memory_mb, "KV cache memory in MiB")
      ->default_val(1024)->check(integer_in(1, physical_memory_mb(), "MiB, at most the machine's memory"));
  add_kv_dtype_option(&app, a.kv_dtype);
  app.add_option("--memory-soft", a.memory_soft_mb, "above this much memory held (MiB: what it started with, KV blocks in use, the hot cache, images in flight) new requests wait (0: off)")
      ->default_val(0)->check(integer_in(0, physical_memory_mb(), "0: off"));
  app.add_option("--memory-hard", a.memory_hard_mb, "above this much memory held (MiB, as --memory-soft; RSS too) running sequences are preempted and new ones refused (0: off)")
      ->default_val(0)->check(integer_in(0, physical_memory_mb(), "0: off"));
  app.add_option("--max-queued", a.max_queued, "requests waiting for admission before new ones are refused")
      ->default_val(256)->check(integer_in(1, 1 << 20));
  add_max_pixels_option(&app, a.max_pixels)
      ->description("largest resized image in pixels (default 409600, 640x640; at most the checkpoint's size.longest_edge)");
  app.add_option("--tokenizer-workers", a.tokenizer_workers, "tokenizer pool size (0: from the cores)")
      ->default_val(0)->check(integer_in(0, 256, "0: from the cores"));
  app.add_option("--preprocessor-workers", a.preprocessor_workers, "image preprocessor pool size (0: from the cores)")
      ->default_val(0)->check(integer_in(0, 256, "0: from the cores"));
  app.add_option("--drain-timeout", a.drain_timeout_s, "seconds to finish running requests on SIGINT/SIGTERM")
      ->default_val(30)->check(real_in(0, 3600));
  app.add_option("--http-port", a.http_port, "serve the OpenAI-compatible HTTP API on this port (0: any free port)")
      ->check(integer_in(0, 65535));
  app.add_option("--http-host", a.http_host, "address of the HTTP API")->default_val("127.0.0.1");
  app.add_option("--api-key", a.api_key, "HTTP API: require Authorization: Bearer KEY on /v1/");
  app.add_option("--cors-origin", a.cors_origins,
                 "HTTP API: a browser origin (https://app.example.com) whose pages may call it; * for any (not with --api-key); repeatable");
  app.add_option("--served-model-name", a.served_model_names,
                 "HTTP API: another name a request's \"model\" may give (repeatable; the checkpoint directory's name always works)");
  app.add_option("--allowed-media-dir", a.allowed_media_dir, "HTTP API: image paths and file:// URLs may name files under this directory")
      ->check(CLI::ExistingDirectory);
  app.add_option("--max-body-mb", a.max_body_mb, "HTTP API: largest request body in MiB")->default_val(64)->check(integer_in(1, 4096));
  app.add_option("--max-images", a.max_images, "HTTP API: images per request")->default_val(8)->check(integer_in(1, 256));
  app.add_option("--max-image-pixels", a.max_image_pixels, "HTTP API: largest declared width x height of an image, checked before decoding")
      ->default_val(int64_t(1) << 26)->check(integer_in(1, int64_t(1) << 30));
  app.add_option("--generation-config", a.generation_config,
                 "HTTP API: the sampling defaults of a request that leaves temperature, top_p, top_k, min_p, "
                 "repetition_penalty or max_tokens out: auto (the checkpoint's generation_config.json, as vLLM), vllm "
                 "(OpenAI's: temperature 1, no truncation), or a directory holding a generation_config.json")
      ->default_val("auto");
  app.add_option("--override-generation-config", a.override_generation_config,
                 "HTTP API: a JSON object of sampling defaults laid over --generation-config's, e.g. '{\"temperature\": 0.5}'");
  app.add_option("--http-max-tokens", a.http_max_tokens, "HTTP API: the largest max_tokens a request may ask")
      ->default_val(4096)->check(integer_in(1, 32768));
  app.add_option("--max-connections", a.max_connections, "HTTP API: requests served at once (more get 429)")
      ->default_val(64)->check(integer_in(1, 4096));
  app.add_option("--http-read-timeout", a.http_read_timeout_s,
                 "HTTP API: seconds a client may take to send a request (header and body); then the connection closes")
      ->default_val(30)->check(real_in(0.1, 3600));
  app.add_option("--request-timeout", a.request_timeout_s, "HTTP API: seconds a request may take before it ends with 504")
      ->default_val(600)->check(real_in(0, 86400, true));
  // The tiered cache of vision embeddings and prefix KV blocks (storage/).
  app.add_option("--cache-dir", a.cache_dir, "directory of the cache's warm and cold tiers (RocksDB)")
      ->default_val(a.cache_dir);
  app.add_option("--cache-hot-mb", a.cache_hot_mb, "cache: hot tier (memory) in MiB")
      ->default_val(512)->check(integer_in(0, physical_memory_mb(), "MiB, at most the machine's memory"));
  app.add_option("--cache-warm-mb", a.cache_warm_mb, "cache: warm tier (disk, uncompressed) in MiB")
      ->default_val(2048)->check(integer_in(0, int64_t{1} << 24, "MiB"));
  app.add_option("--cache-cold-mb", a.cache_cold_mb, "cache: cold tier (disk, zstd) in MiB")
      ->default_val(8192)->check(integer_in(0, int64_t{1} << 24, "MiB"));
  app.add_flag("--no-cache", a.no_cache, "no vision-embedding or prefix-KV cache");
}

// The cache for this model (keys carry its fingerprint), or null with --no-cache. A directory
// that cannot be used leaves it in memory, which the start-up report says.
std::shared_ptr<pio::TieredCache> make_cache(const Args& a, const pio::ModelWeights& model, pio::KvDType kv_dtype) {
  if (a.no_cache) return nullptr;
  // The weight scheme and the KV dtype are part of every key: an embedding or a block computed
  // with other weights, or stored in another dtype, is never read.
  const std::string dtype = "weights " + model.config().text.dtype + " as " +
                            std::string(pio::weight_scheme_name(model.weight_scheme())) + ", compute f32, KV " +
                            std::string(pio::kv_dtype_name(kv_dtype));
  pio::TieredCacheOptions options{a.cache_dir, pio::model_fingerprint(a.model, dtype), a.cache_hot_mb << 20,
                                  a.cache_warm_mb << 20, a.cache_cold_mb << 20};
  options.log = [](const std::string& line) { std::cerr << "pio-node: " + line + "\n" << std::flush; };
  return std::make_shared<pio::TieredCache>(std::move(options));
}

// The start line's account of the cache: its bounds, and where it lives with the entries it
// recovered (and a damaged database moved aside), or why it runs in memory only.
std::string cache_description(const Args& a, const pio::TieredCache* cache) {
  if (!cache) return "off";
  std::string out = std::to_string(a.cache_hot_mb) + "/" + std::to_string(a.cache_warm_mb) + "/" +
                    std::to_string(a.cache_cold_mb) + " MiB hot/warm/cold, ";
  if (!cache->has_disk()) return out + "memory only: " + cache->disk_error();
  out += "in " + a.cache_dir + " (" + std::to_string(cache->recovered()) + " entries recovered";
  if (const std::string moved = cache->moved_aside(); !moved.empty()) out += "; a damaged database was moved to " + moved;
  return out + ")";
}

// The HTTP API's sampling defaults (--generation-config, --override-generation-config). Throws
// std::invalid_argument for a --generation-config that is neither a keyword nor a directory and
// for an override that does not read, std::runtime_error for a generation config that does not.
pio::GenerationDefaults generation_defaults(const Args& a) {
  pio::GenerationDefaults d;
  if (a.generation_config == "auto") d = pio::load_generation_defaults(a.model);
  else if (std::filesystem::is_directory(a.generation_config)) d = pio::load_generation_defaults(a.generation_config);
  else if (a.generation_config != "vllm")
    throw std::invalid_argument("--generation-config " + a.generation_config + ": auto, vllm or a directory");
  if (!a.override_generation_config.empty()) {
    try {
      d = pio::override_generation_defaults(d, a.override_generation_config);
    } catch (const std::runtime_error& e) {
      throw std::invalid_argument(e.what());  // the flag's text, not the checkpoint, is wrong: exit 2
    }
  }
  return d;
}

// descriptor_reserve: descriptors the HTTP API leaves free (past them a connection gets 429);
// generation: the sampling defaults of requests that leave fields out.
pio::http::HttpSettings http_settings(const Args& a, long descriptor_reserve, const pio::GenerationDefaults& generation) {
  pio::http::HttpSettings h;
  h.host = a.http_host;
  h.port = static_cast<uint16_t>(a.http_port);
  h.api_key = a.api_key;
  h.cors_origins = a.cors_origins;
  h.model_aliases = a.served_model_names;
  const std::filesystem::path model(a.model);
  h.model_name = (model.has_filename() ? model.filename() : model.parent_path().filename()).string();
  h.limits.max_tokens = a.http_max_tokens;
  h.limits.default_max_tokens = std::min(generation.max_tokens.value_or(1024), a.http_max_tokens);
  pio::http::SamplingDefaults& d = h.limits.sampling;
  d.temperature = generation.temperature.value_or(d.temperature);
  d.top_p = generation.top_p.value_or(d.top_p);
  d.top_k = generation.top_k.value_or(d.top_k);
  d.min_p = generation.min_p.value_or(d.min_p);
  d.repetition_penalty = generation.repetition_penalty.value_or(d.repetition_penalty);
  h.limits.max_images = a.max_images;
  h.limits.media.allowed_dir = a.allowed_media_dir;
  h.limits.media.max_pixels = a.max_image_pixels;
  h.max_body_bytes = static_cast<uint64_t>(a.max_body_mb) << 20;
  h.limits.media.max_image_bytes = h.max_body_bytes;
  h.max_connections = a.max_connections;
  h.deadline_ms = static_cast<int64_t>(a.request_timeout_s * 1000);
  h.read_timeout = std::chrono::milliseconds(static_cast<int64_t>(a.http_read_timeout_s * 1000));
  h.descriptor_reserve = descriptor_reserve;
  return h;
}

// 127.0.0.0/8, ::1 or localhost.
bool loopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

// A client-API connection that brings no byte for this long is shut down (a live BASP peer
// sends a heartbeat every 0.5 s; one that never finishes its handshake would hold a descriptor).
constexpr std::chrono::seconds kIdleConnectionLimit{10};

// A memory threshold at or below what the node holds before any request (its weights, code and
// pools, which it never gives back) holds every request forever (soft) or refuses it (hard): a
// warning names the figure to go above (an overloaded node is what some setups want to test).
void warn_of_memory_thresholds(const Args& a, double held_mb) {
  for (const auto& [name, mb, effect] : {std::tuple{"--memory-soft", a.memory_soft_mb, "waits"},
                                         std::tuple{"--memory-hard", a.memory_hard_mb, "is refused"}})
    if (mb > 0 && static_cast<double>(mb) <= held_mb)
      std::cerr << "pio-node: warning: " << name << " " << mb << " MiB is at or below the "
                << static_cast<int64_t>(held_mb) << " MiB the node holds before any request (weights, code, pools): "
                << "every request " << effect << "; give more than that, or 0 for off\n";
}

// The HTTP API's options that cannot be checked one by one. Throws std::invalid_argument (exit 2).
void check_http_options(const Args& a) {
  // Any page on the web could spend the key a browser holds for the API.
  if (!a.api_key.empty() && std::find(a.cors_origins.begin(), a.cors_origins.end(), "*") != a.cors_origins.end())
    throw std::invalid_argument("--cors-origin '*' with --api-key would let any web page use the key a browser holds: "
                                "name the origins (--cors-origin https://app.example.com)");
  for (const std::string& origin : a.cors_origins)
    if (origin != "*" && origin.find("://") == std::string::npos)
      throw std::invalid_argument("--cors-origin " + origin + ": an origin is scheme://host[:port], as browsers send it "
                                  "(https://app.example.com), or *");
  if (a.http_port > 0 && a.http_port == a.port)
    throw std::invalid_argument("--http-port and --port are both " + std::to_string(a.port) +
                                ": the HTTP API and the client-API port need a port each");
}

// How the client-API port opens: plain (loopback, or beyond with --insecure), mutual TLS, or
// not at all (--api-key without TLS: a credential-free port beside a key-protected HTTP API
// would make the key pointless).
enum class PortMode { plain, tls, off };

// The port's mode, decided before the model loads. Throws std::invalid_argument for a
// combination that must not start (exit 2), unusable TLS files included.
PortMode client_port_mode(const Args& a) {
  if (a.tls.enabled()) {
    pio::check_tls_files(a.tls);
    return PortMode::tls;
  }
  if (!a.api_key.empty()) {
    if (a.role == "frontend")
      throw std::invalid_argument("--role frontend with --api-key needs --tls-cert/--tls-key/--tls-ca: workers join on the "
                                  "client-API port, which --api-key without TLS keeps closed");
    if (a.http_port < 0)
      throw std::invalid_argument("--api-key without --tls-cert/--tls-key/--tls-ca leaves the client-API port closed, "
                                  "and there is no --http-port: nothing would be served");
    return PortMode::off;
  }
  if (!loopback(a.host) && !a.insecure)
    throw std::invalid_argument("--host " + a.host + " is not loopback: the client-API port needs --tls-cert, --tls-key "
                                "and --tls-ca there (or --insecure to serve it to anyone who reaches it)");
  return PortMode::plain;
}

// The engine group's settings (a worker's, or the in-process worker of role all), and its part
// of the configuration line. The engine group's runners compute on `backends`.
pio::EngineSettings engine_settings(const Args& a, std::shared_ptr<const pio::ModelWeights> model,
                                    pio::cli::ComputeBackends& backends,
                                    std::string& configuration) {
  pio::EngineSettings e;
  e.kv_dtype = pio::cli::kv_shape(pio::kv_cache_shape(*model), a.kv_dtype).dtype;
  e.cache = make_cache(a, *model, *e.kv_dtype);
  e.tokenizer = pio::load_tokenizer(a.model);
  e.kv_bytes = a.kv_memory_mb << 20;
  e.options.max_batch_tokens = std::max<int64_t>(a.max_batch_tokens, a.max_sequences);
  e.options.max_sequences = a.max_sequences;
  e.options.target_step_ms = a.target_step_ms;
  e.options.policy = a.policy;
  e.options.ageing_s = a.ageing_s;
  e.options.preprocessor = pio::load_preprocessor_config(a.model);
  if (!pio::policy_exists(a.policy)) throw std::invalid_argument("--policy: unknown scheduling policy '" + a.policy + "'");
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  configuration += "compute threads " + std::to_string(a.threads ? a.threads : static_cast<int>(cores)) + (a.pin ? " (pinned)" : "") +
                   ", weights " + a.weights + (model->packed_weights() ? " (" + model->packed_weights()->origin() + ")" : std::string()) +
                   ", policy " + a.policy + ", max batch tokens " + std::to_string(a.max_batch_tokens) + ", target step " +
                   std::to_string(static_cast<int>(a.target_step_ms)) + " ms, KV " + std::to_string(a.kv_memory_mb) + " MiB " +
                   std::string(pio::kv_dtype_name(*e.kv_dtype)) + ", cache " + cache_description(a, e.cache.get());
  const pio::LayerSplit split = backends.plan(*model, e.kv_bytes);
  e.weights = std::move(model);
  e.backend = split.device;
  e.options.host_backend = split.host;
  e.options.gpu_layers = split.device_layers;
  e.options.vision_backend = &backends.vision();
  e.fallback = backends.fallback();
  return e;
}

// What workers and their front end must agree on: the checkpoint (config, weights files).
std::string checkpoint_fingerprint(const Args& a) { return pio::model_fingerprint(a.model, "checkpoint"); }

// The front end's settings; with a model (role all) its in-process worker's too, on `backends`.
pio::NodeSettings node_settings(const Args& a, std::shared_ptr<const pio::ModelWeights> model,
                                pio::cli::ComputeBackends& backends,
                                std::string& configuration) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  pio::NodeSettings s;
  if (model) {
    s.engine = engine_settings(a, std::move(model), backends, configuration);
  } else {
    s.engine.tokenizer = pio::load_tokenizer(a.model);
    s.config = std::make_shared<const pio::ModelConfig>(pio::load_model_config(a.model));
    configuration += "role frontend (no weights), router " + a.router + (a.no_kv_replicas ? ", no KV replicas" : ", KV replicas");
  }
  s.router = a.router;
  s.kv_replicas = !a.no_kv_replicas;
  s.fingerprint = checkpoint_fingerprint(a);
  s.preprocessor = pio::load_preprocessor_config(a.model);
  s.max_pixels = std::min(a.max_pixels > 0 ? a.max_pixels : kDefaultMaxPixels, s.preprocessor.max_pixels);
  // Pools run on CAF's scheduler threads, beside the engine's compute threads: half the cores each.
  s.tokenizer_workers = a.tokenizer_workers ? static_cast<size_t>(a.tokenizer_workers) : std::max(1u, cores / 2);
  s.preprocessor_workers = a.preprocessor_workers ? static_cast<size_t>(a.preprocessor_workers) : std::max(1u, cores / 2);
  s.admission = {static_cast<double>(a.memory_soft_mb), static_cast<double>(a.memory_hard_mb),
                 static_cast<size_t>(a.max_queued), 4096};
  configuration += ", per-image pixel budget " + std::to_string(s.max_pixels) +
                   (a.max_pixels > 0 ? std::string(" (--max-pixels)")
                                     : " (the node's default; --max-pixels raises it up to the checkpoint's " +
                                           std::to_string(s.preprocessor.max_pixels) + ")") +
                   ", tokenizer workers " + std::to_string(s.tokenizer_workers) + ", preprocessor workers " +
                   std::to_string(s.preprocessor_workers) + ", memory soft/hard " + std::to_string(a.memory_soft_mb) + "/" +
                   std::to_string(a.memory_hard_mb) + " MiB";
  s.profiler = std::make_shared<pio::Profiler>(pio::describe_hardware(s.engine.backend), configuration);
  auto plugins = std::make_shared<pio::PluginRegistry>();
  pio::load_plugins(a.plugins, *plugins);
  s.plugins = plugins;
  return s;
}

// HOST:PORT of --join. Throws std::invalid_argument.
std::pair<std::string, uint16_t> join_address(const std::string& join) {
  const auto colon = join.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw std::invalid_argument("--join must be HOST:PORT (the frontend's client-API port), got '" + join + "'");
  int port = 0;
  try {
    port = std::stoi(join.substr(colon + 1));
  } catch (const std::exception&) {
    port = 0;
  }
  if (port < 1 || port > 65535) throw std::invalid_argument("--join: the port must be in [1, 65535], got '" + join + "'");
  std::string host = join.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return {host, static_cast<uint16_t>(port)};
}

// The --device backend (the CPU one of --threads threads): its log line (the CUDA device, its
// compute capability and memory, or why auto runs on the CPU) comes before the loading line.
pio::cli::ComputeBackends make_backends(const Args& a) {
  return pio::cli::ComputeBackends(a.device, a.threads, a.pin, "pio-node");
}

// The checkpoint's weights, shared by the engine group's runners on the --device backend.
// Packed weights are cached beside the tiered cache (--no-cache: packed in memory).
std::shared_ptr<const pio::ModelWeights> load_model(const Args& a, const pio::Backend& backend) {
  return std::make_shared<const pio::ModelWeights>(
      a.model, pio::options_for(pio::cli::model_options(a.weights, a.no_cache ? "" : a.cache_dir, a.map_pack), backend));
}

// --role worker: loads the model, joins the frontend at --join (reconnecting whenever it is
// lost) and serves its jobs until SIGINT/SIGTERM, which drains it: the frontend gives it no new
// jobs, it finishes what it runs (bounded by --drain-timeout; the frontend moves what is left
// when it goes), then exits 0. A refused join exits 3. Throws std::invalid_argument (exit 2).
int run_worker(const Args& a) {
  const auto [host, port] = join_address(a.join);
  if (a.tls.enabled()) pio::check_tls_files(a.tls);
  else if (!loopback(host) && !a.insecure)
    throw std::invalid_argument("--join " + a.join + " is not loopback: a worker's traffic needs --tls-cert, --tls-key and "
                                "--tls-ca there (or --insecure to send it in the clear)");
  if (!a.tls.enabled() && !loopback(host))
    std::cerr << "pio-node: warning: --insecure: this worker's traffic to " << a.join << " is not encrypted\n";
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  pio::cli::ComputeBackends backends = make_backends(a);
  std::cerr << "pio-node: loading " << a.model << " ..." << std::flush;
  const auto t0 = std::chrono::steady_clock::now();
  std::string configuration = "role worker, ";
  pio::WorkerSettings worker{engine_settings(a, load_model(a, backends.device()), backends, configuration), checkpoint_fingerprint(a), ""};
  char hostname[256] = {};
  gethostname(hostname, sizeof hostname - 1);
  worker.name = std::string(hostname) + ":" + std::to_string(getpid());
  std::cerr << " done in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n"
            << "pio-node: hardware: " << pio::describe_hardware(&backends.device()) << "\npio-node: configuration: "
            << configuration << "\n";
  pio::ActorSystem system{a.tls};
  pio::FrontendAddress frontend{host, port, a.tls.enabled(), [](const std::string& why) {
                                  std::cerr << "pio-node: error: the frontend refused this worker: " << why << "\n" << std::flush;
                                  std::_Exit(3);
                                }};
  const auto agent = pio::spawn_remote_worker(*system, std::move(worker), std::move(frontend));
  std::cout << "worker joining " << host << ":" << port << std::endl;
  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::cerr << "pio-node: " << (signal == SIGINT ? "SIGINT" : "SIGTERM") << ": draining this worker\n";
  caf::scoped_actor self{*system};
  bool drained = false;
  self->request(agent, std::chrono::milliseconds(static_cast<int64_t>(a.drain_timeout_s * 1000)), pio::drain_atom::value)
      .receive([&](bool done) { drained = done; }, [](caf::error&) {});
  std::cerr << "pio-node: " << (drained ? "every job finished" : "drain timeout: the frontend moves the rest") << "; leaving\n"
            << std::flush;
  std::_Exit(0);  // the frontend notices the connection close at once and forgets this worker
}

// The first option given (on the command line or in --config) that only a front end uses: its
// HTTP API and its routing. A worker would ignore it, so it is refused rather than dropped.
std::string front_end_option_given(const CLI::App& app) {
  constexpr const char* kFrontEndOnly[] = {
      "--http-port",       "--http-host",        "--api-key",       "--cors-origin",    "--served-model-name",
      "--allowed-media-dir", "--max-body-mb",    "--max-images",    "--max-image-pixels", "--http-max-tokens",
      "--max-connections", "--http-read-timeout", "--request-timeout", "--router",       "--no-kv-replicas"};
  for (const char* name : kFrontEndOnly)
    if (app.count(name) > 0) return name;
  return "";
}

// Why a fixed port of the node's cannot be listened on, checked before the model loads; "" when
// both can (or are 0: any free port).
std::string busy_port(const Args& a, PortMode port_mode) {
  const auto check = [](const std::string& host, int port, const char* option) -> std::string {
    if (port <= 0) return "";
    const std::string why = pio::node::port_unavailable(host, static_cast<uint16_t>(port));
    return why.empty() ? "" : std::string(option) + " " + std::to_string(port) + ": cannot listen on " + host + ":" +
                                  std::to_string(port) + " (" + why + "; another pio-node?)";
  };
  if (port_mode != PortMode::off)
    if (std::string busy = check(a.host, a.port, "--port"); !busy.empty()) return busy;
  return check(a.http_host, a.http_port, "--http-port");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pio-node: serve a Qwen3-VL checkpoint to pio clients"};
  app.set_version_flag("--version", std::string("pio-node ") + PIO_VERSION);
  Args a;
  add_options(app, a);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& e) {
    // CLI11 words an unknown key "INI was not able to parse KEY"; say which file and what to do.
    std::string what = e.what();
    const std::string extras = "INI was not able to parse ";
    if (what.rfind(extras, 0) == 0) {
      const std::string key = what.substr(extras.size());
      const std::string keys = "keys are the long flags without their dashes, e.g. kv-memory = 512";
      // CLI11 names a section's keys section.key (a [node] header comes as node.++ first).
      if (const size_t dot = key.find('.'); dot != std::string::npos)
        what = "--config: section [" + key.substr(0, dot) + "] is not read (write the keys at the top level; " + keys + ")";
      else
        what = "--config: unknown key '" + key + "' (" + keys + ")";
    }
    std::cerr << "pio-node: error: " << what << "\n";
    return 2;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help exits 0; a refused option exits 2, as `pio` does
  }
  if (a.memory_soft_mb && a.memory_hard_mb && a.memory_hard_mb < a.memory_soft_mb) {
    std::cerr << "pio-node: error: --memory-hard must be at least --memory-soft\n";
    return 2;
  }
  try {
    pio::cli::check_device_args(a.device);
  } catch (const CLI::ValidationError& e) {
    std::cerr << "pio-node: error: " << e.what() << "\n";
    return 2;
  }
  if (a.role == "worker" && a.join.empty()) {
    std::cerr << "pio-node: error: --role worker needs --join HOST:PORT (the frontend's client-API port)\n";
    return 2;
  }
  if (a.role != "worker" && !a.join.empty()) {
    std::cerr << "pio-node: error: --join is for --role worker\n";
    return 2;
  }
  if (a.role == "worker")
    if (const std::string front = front_end_option_given(app); !front.empty()) {
      std::cerr << "pio-node: error: " << front << " is the front end's (--role all or frontend); a worker serves "
                << "only its front end, whose clients reach it through the front end's options\n";
      return 2;
    }
  if (a.role == "worker") {
    try {
      return run_worker(a);
    } catch (const std::invalid_argument& e) {
      std::cerr << "pio-node: error: " << e.what() << "\n";
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "\npio-node: error: " << e.what() << "\n";
      return 1;
    }
  }
  PortMode port_mode = PortMode::plain;
  pio::GenerationDefaults generation;
  try {
    check_http_options(a);
    port_mode = client_port_mode(a);
    generation = generation_defaults(a);
  } catch (const std::invalid_argument& e) {
    std::cerr << "pio-node: error: " << e.what() << "\n";
    return 2;
  } catch (const std::runtime_error& e) {
    std::cerr << "pio-node: error: " << e.what() << "\n";
    return 1;
  }
  if (const std::string busy = busy_port(a, port_mode); !busy.empty()) {
    std::cerr << "pio-node: error: " << busy << "\n";
    return 1;
  }
  // Client connections never take the last descriptors, and never make the network thread spin.
  const long open_files = pio::node::raise_descriptor_limit();
  const long spare_descriptors = std::max(16L, open_files / 8);
  pio::node::guard_accept(static_cast<int>(spare_descriptors));
  // Every thread started from here on inherits the blocked signals; main waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  try {
    pio::cli::ComputeBackends backends;  // none for a frontend: it never computes
    if (a.role == "all") backends = make_backends(a);
    std::cerr << "pio-node: loading " << a.model << " ..." << std::flush;
    const auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<const pio::ModelWeights> model;  // none for a frontend: it never maps the weights
    if (a.role == "all") model = load_model(a, backends.device());
    std::string configuration;
    pio::NodeSettings settings = node_settings(a, model, backends, configuration);
    std::cerr << " done in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n"
              << "pio-node: hardware: " << pio::describe_hardware(model ? &backends.device() : nullptr)
              << "\npio-node: configuration: " << configuration
              << "\n";
    if (port_mode == PortMode::plain && !loopback(a.host))
      std::cerr << "pio-node: warning: --insecure: the client-API port on " << a.host
                << " is not loopback and has no TLS: anyone who reaches it can use the node\n";
    if (a.http_port >= 0 && !loopback(a.http_host) && a.api_key.empty())
      std::cerr << "pio-node: warning: the HTTP API listens on " << a.http_host
                << ", not loopback, without --api-key: anyone who reaches it can use the model\n";
    if (a.http_port >= 0 && !generation.empty())  // vLLM says so too: an answer's sampling is not OpenAI's
      std::cerr << "pio-node: HTTP requests that leave them out sample with " << generation.describe()
                << " (the generation config; --generation-config vllm for OpenAI's defaults)\n";
    pio::http::HttpSettings http = http_settings(a, 2 * spare_descriptors, generation);  // 429 before the guard
    http.tokenizer = settings.engine.tokenizer;
    http.max_model_len = (settings.config ? *settings.config : settings.engine.weights->config()).text.max_position_embeddings;
    pio::Node node(std::move(settings), a.tls);
    warn_of_memory_thresholds(a, pio::resident_mb());
    std::unique_ptr<pio::http::HttpGateway> gateway;
    if (a.http_port >= 0) {
      gateway = std::make_unique<pio::http::HttpGateway>(node, std::move(http));
      const uint16_t bound = gateway->start();  // before the line: a failed bind prints no half of it
      std::cout << "http listening on " << a.http_host << ":" << bound << std::endl;
    }
    if (port_mode == PortMode::off) {
      std::cerr << "pio-node: the client-API port stays closed: --api-key protects HTTP only; give --tls-cert, "
                   "--tls-key and --tls-ca to open it to clients with a certificate\n";
      std::cout << "client port: off (--api-key without TLS)" << std::endl;
    } else {
      // A plain port's frames are checked from its first connection (a fixed port: even one
      // that arrives before publish returns).
      if (port_mode == PortMode::plain) pio::node::check_basp_frames_on(static_cast<uint16_t>(a.port));
      const uint16_t port = node.publish(a.host, static_cast<uint16_t>(a.port));
      if (port_mode == PortMode::plain) pio::node::check_basp_frames_on(port);
      pio::node::shut_idle_connections(port, kIdleConnectionLimit);
      if (port_mode == PortMode::tls) std::cerr << "pio-node: client-API port: mutual TLS, peers signed by " << a.tls.ca << "\n";
      std::cout << "listening on " << a.host << ":" << port << std::endl;
    }
    int signal = 0;
    sigwait(&stop_signals, &signal);
    std::cerr << "pio-node: " << (signal == SIGINT ? "SIGINT" : "SIGTERM") << ": draining\n";
    const bool drained = node.drain(std::chrono::milliseconds(static_cast<int64_t>(a.drain_timeout_s * 1000)));
    std::cerr << "pio-node: " << (drained ? "every request finished" : "drain timeout: ending the rest") << "\n";
    if (!drained) node.end_all("the node is shutting down: its drain timeout passed");
    if (gateway) gateway->stop();  // after the streams' final events are written (bounded)
    // The actors stop at their next message (an engine finishes the step it is in). Whatever
    // holds them, the process exits within a bound.
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::seconds(10));
      std::cerr << "pio-node: the runtime did not stop within 10 s; exiting\n";
      std::_Exit(0);
    }).detach();
  } catch (const std::exception& e) {
    std::cerr << "\npio-node: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
