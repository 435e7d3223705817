// `pio bench`: prefill and decode throughput on a checkpoint, vision encode and image+text
// time to first token when it has a vision tower, medians of several runs, and peak RSS. Decode
// is also set against the memory read bandwidth the same number of threads measures.
// A program that prints figures, not a test.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/pio/bench_util.h"
#include "apps/pio/bench_vision.h"
#include "apps/pio/cli_util.h"
#include "apps/pio/commands.h"
#include "apps/pio/option_checks.h"
#include "gpu/cpu/read_bandwidth.h"
#include "model/decode_traffic.h"
#include "model/model_weights.h"
#include "model/sampler.h"
#include "model/text_model.h"

namespace pio::cli {
namespace {

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// Deterministic prompt ids spread over the vocabulary.
std::vector<int32_t> bench_prompt(int64_t n, int64_t vocab) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>((i * 7919 + 13) % std::min<int64_t>(vocab, 150000)));
  return ids;
}

struct RunTimes {
  double prefill_s = 0, decode_s = 0;
  std::vector<float> last_logits;  // the row the last decode step gave (the sampling figure's)
};

// Prompt tokens per prefill forward pass, as llama.cpp's default micro-batch (and a node's
// --max-batch-tokens): a long prompt's activations stay bounded. The logits do not depend on the
// split (batch invariance).
constexpr int64_t kPrefillChunk = 512;

RunTimes run_once(TextModel& model, PagedKvCache& cache, const std::vector<int32_t>& prompt, int gen_tokens) {
  RunTimes t;
  const SequenceId seq = cache.pool().add_sequence();
  std::vector<Pos3> pos;
  ForwardBatch batch;
  batch.steps.push_back({0, false, {}, 0});
  std::span<const float> logits;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < static_cast<int64_t>(prompt.size()); first += kPrefillChunk) {
    const int64_t n = std::min<int64_t>(kPrefillChunk, static_cast<int64_t>(prompt.size()) - first);
    text_positions(static_cast<int32_t>(first), n, pos);
    batch.steps[0].n_tokens = n;
    batch.ids = std::span<const int32_t>(prompt).subspan(static_cast<size_t>(first), static_cast<size_t>(n));
    batch.positions = pos;
    logits = cache.forward(model, batch, {&seq, 1});
  }
  t.prefill_s = seconds_since(t0);
  const int64_t vocab = model.config().vocab_size;
  std::vector<int32_t> next(1);
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < gen_tokens; ++i) {
    next[0] = static_cast<int32_t>(std::max_element(logits.begin(), logits.begin() + vocab) - logits.begin());
    text_positions(static_cast<int32_t>(prompt.size()) + i, 1, pos);
    batch.steps[0].n_tokens = 1;
    batch.ids = next;
    batch.positions = pos;
    logits = cache.forward(model, batch, {&seq, 1});
  }
  t.decode_s = seconds_since(t0);
  t.last_logits.assign(logits.begin(), logits.begin() + vocab);
  cache.pool().release(seq);
  return t;
}

// Milliseconds the engine thread spends choosing one sampled token (temperature 0.8, top-p 0.95,
// common client settings) from a row of logits: median of `runs` rounds of 64 draws.
double sample_ms(std::span<const float> row, int runs) {
  Sampler sampler({0.8f, 0, 0.95f, 1});
  std::vector<double> ms;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 64; ++i) sampler.next(row);
    ms.push_back(seconds_since(t0) * 1000 / 64);
  }
  return median(ms);
}

// Decode's share of the memory read bandwidth. Every decode run is bracketed by two probes that
// stream the very weights a decode step reads (decode_weight_ranges) with as many threads as the
// backend (no pinning either), and set against the faster of the two: on a shared machine the
// bandwidth drifts by half within minutes, and a probe taken apart from the run would measure
// another machine. Decode on a device reads device memory, which the host cannot probe: there
// (probe false) only the weights' GB/s is reported.
class DecodeTraffic {
 public:
  DecodeTraffic(const TextWeights& weights, int threads, bool probe)
      : pool_(threads), ranges_(decode_weight_ranges(weights)), step_bytes_(decode_weight_bytes(weights)), probe_(probe) {}

  // Before the first run.
  void start() {
    if (probe_) probes_.push_back(cpu::probe_read_bandwidth(pool_, ranges_));
  }
  // After each run, its tokens/s.
  void add_run(double tok_s) {
    rates_.push_back(tok_s);
    if (probe_) probes_.push_back(cpu::probe_read_bandwidth(pool_, ranges_));
  }

  // Sets decode_tok_s and, each the median over the runs, the weights' GB/s, their share of the
  // bracketing bandwidth and that bandwidth.
  void report(nlohmann::ordered_json& out) const {
    std::vector<double> gb_s, pct, bandwidth;
    for (size_t r = 0; r < rates_.size(); ++r) {
      gb_s.push_back(rates_[r] * static_cast<double>(step_bytes_) / 1e9);
      if (!probe_) continue;
      bandwidth.push_back(std::max(probes_[r], probes_[r + 1]));
      pct.push_back(100.0 * gb_s.back() / bandwidth.back());
    }
    out["decode_tok_s"] = median(rates_);
    out["decode_weight_bytes_per_token"] = step_bytes_;
    out["decode_weight_gb_s"] = median(gb_s);
    if (!probe_) return;
    out["decode_bandwidth_pct"] = median(pct);
    out["read_bandwidth_gb_s"] = median(bandwidth);
  }

 private:
  cpu::ThreadPool pool_;
  std::vector<std::span<const uint8_t>> ranges_;
  int64_t step_bytes_;
  bool probe_;
  std::vector<double> rates_, probes_;
};

}  // namespace

void add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure prefill and decode tokens/s (median of several runs) and peak RSS");
  struct Args {
    std::string model, weights = "auto";
    DeviceArgs device;
    int threads = 0, gen_tokens = 32, runs = 3;
    std::vector<int64_t> prompt_tokens{128, 512};
    std::vector<std::string> image_sizes{"448x448", "1280x720"};
    std::string kv_dtype;
    bool json = false, no_vision = false, map_pack = true;
  };
  auto a = std::make_shared<Args>();
  add_model_option(cmd, a->model)->required();
  add_threads_option(cmd, a->threads);
  add_device_options(cmd, a->device);
  add_weights_option(cmd, a->weights);
  add_mmap_flags(cmd, a->map_pack);
  cmd->add_option("--prompt-tokens", a->prompt_tokens, "prompt lengths to prefill")
      ->default_val(std::vector<int64_t>{128, 512})
      ->check(integer_in(1, kMaxTokens));
  cmd->add_option("--gen-tokens", a->gen_tokens, "tokens to decode per run")
      ->default_val(32)
      ->check(integer_in(1, kMaxTokens));
  cmd->add_option("--runs", a->runs, "runs per figure (median reported)")->default_val(3)->check(integer_in(1, kMaxRuns));
  cmd->add_option("--image-sizes", a->image_sizes, "image sizes (WxH) to encode; the first is also the TTFT prompt's")
      ->default_val(std::vector<std::string>{"448x448", "1280x720"})
      ->check(image_size());
  add_kv_dtype_option(cmd, a->kv_dtype);
  cmd->add_flag("--no-vision", a->no_vision, "measure the text decoder only");
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([a] {
    ComputeBackends backends(a->device, a->threads, false, "pio");
    Backend& backend = backends.device();
    auto t0 = std::chrono::steady_clock::now();
    const ModelWeights model(a->model, options_for(model_options(a->weights, default_cache_dir(), a->map_pack), backend));
    TextModel text(model, backends.plan(model, 0));
    const double load_s = seconds_since(t0);
    const int64_t longest = *std::max_element(a->prompt_tokens.begin(), a->prompt_tokens.end());
    PagedKvCache cache = sequence_kv_cache(text, longest, a->gen_tokens, "--prompt-tokens", 0, a->kv_dtype);
    const int64_t vocab = model.config().text.vocab_size;

    nlohmann::ordered_json out;
    out["model"] = a->model;
    out["backend"] = backend.name();
    if (!backend.shares_host_memory()) {
      out["device_weight_mb"] = static_cast<double>(text.device_weight_bytes()) / (1 << 20);
      out["device_memory_used_mb"] = static_cast<double>(backend.device_memory().used_bytes) / (1 << 20);
    }
    out["load_s"] = load_s;
    out["weights"] = weight_scheme_name(model.weight_scheme());
    out["weights_origin"] = model.packed_weights() ? model.packed_weights()->origin() : "checkpoint";
    out["kv_dtype"] = std::string(kv_dtype_name(cache.storage().dtype()));
    DecodeTraffic decode(model.text(), a->threads, backend.shares_host_memory());
    double run_s = 0, transfer_s = 0;  // over the timed runs: on a device, the share spent copying
    std::vector<float> last_logits;
    for (size_t p = 0; p < a->prompt_tokens.size(); ++p) {
      const auto prompt = bench_prompt(a->prompt_tokens[p], vocab);
      run_once(text, cache, prompt, 1);  // warm-up: pages weights in, sizes buffers
      std::vector<double> prefill;
      if (p == 0) decode.start();
      for (int r = 0; r < a->runs; ++r) {
        // Decode is measured after the first (shortest) prompt only.
        const double transfer_before = backend.transfer_seconds();
        RunTimes t = run_once(text, cache, prompt, p == 0 ? a->gen_tokens : 1);
        if (p == 0 && r == 0) last_logits = std::move(t.last_logits);
        transfer_s += backend.transfer_seconds() - transfer_before;
        run_s += t.prefill_s + t.decode_s;
        prefill.push_back(static_cast<double>(prompt.size()) / t.prefill_s);
        if (p == 0) decode.add_run(a->gen_tokens / t.decode_s);
      }
      const double rate = median(prefill);
      out["prefill_tok_s_" + std::to_string(prompt.size())] = rate;
      if (p == 0) out["prefill_tok_s"] = rate;
      if (!a->json)
        std::cout << "prefill " << prompt.size() << " tokens: " << rate << " tok/s (median of " << a->runs << ")\n";
    }
    decode.report(out);
    out["decode_after_prompt_tokens"] = a->prompt_tokens.front();
    out["sample_top_p_ms"] = sample_ms(last_logits, a->runs);
    if (!backend.shares_host_memory()) out["transfer_share_pct"] = 100.0 * transfer_s / run_s;
    if (!a->no_vision) bench_vision(model, text, backends.vision(), a->model, {a->image_sizes, a->runs, cache.storage().dtype()}, out, a->json ? nullptr : &std::cout);
    out["peak_rss_mb"] = peak_rss_mb();
    if (!a->json)
      std::cout << "decode: " << out["decode_tok_s"].get<double>() << " tok/s (" << a->gen_tokens << " tokens after a "
                << a->prompt_tokens.front() << "-token prompt, median of " << a->runs << "); "
                << out["decode_weight_bytes_per_token"].get<double>() / 1e9 << " GB of weights per token: "
                << out["decode_weight_gb_s"].get<double>() << " GB/s";
    if (!a->json && out.contains("decode_bandwidth_pct"))
      std::cout << ", " << out["decode_bandwidth_pct"].get<double>()
                << "% of the read bandwidth probed around each run by streaming those weights ("
                << out["read_bandwidth_gb_s"].get<double>() << " GB/s; medians)\n";
    else if (!a->json)
      std::cout << " (median)\n";
    if (!a->json)
      std::cout << "sampling (temperature 0.8, top-p 0.95, on the last decode step's logits): "
                << out["sample_top_p_ms"].get<double>() << " ms per token (median of " << a->runs << ")\n";
    if (a->json) {
      std::cout << out.dump() << std::endl;
    } else {
      std::cout << "peak RSS: " << out["peak_rss_mb"].get<double>() << " MB\n"
                << "backend: " << backend.name() << ", weights " << out["weights"].get<std::string>() << " ("
                << out["weights_origin"].get<std::string>() << "), KV " << kv_dtype_name(cache.storage().dtype()) << ", load "
                << load_s << " s\n";
    }
  });
}

}  // namespace pio::cli
