#include "serving/profiler.h"

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <thread>
#include <tuple>

#include <prometheus/client_metric.h>

#include "gpu/cpu/cpu_features.h"
#include "serving/engine_router.h"

namespace pio {
namespace {

// Latency buckets in seconds (Prometheus' base unit), from millisecond steps to minute-long prefills.
prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60};
}

// The quantiles' sliding window (prometheus-cpp's default is 60 s), in 5 steps of 2 minutes.
constexpr std::chrono::minutes kQuantileWindow{10};
constexpr int kQuantileWindowSteps = 5;

const prometheus::Summary::Quantiles& quantiles() {
  static const prometheus::Summary::Quantiles q{{0.5, 0.01}, {0.9, 0.01}, {0.99, 0.001}};
  return q;
}

}  // namespace

const std::vector<std::string>& Profiler::stages() {
  static const std::vector<std::string> names{"queue_wait", "preprocess", "tokenize", "vision_encode",
                                              "prefill",    "ttft",       "itl",      "step"};
  return names;
}

Profiler::Profiler(std::string hardware, std::string configuration)
    : registry_(std::make_shared<prometheus::Registry>()),
      hardware_(std::move(hardware)),
      configuration_(std::move(configuration)) {
  auto& hist = prometheus::BuildHistogram().Name("pio_stage_latency_seconds").Help("Latency per request stage").Register(*registry_);
  auto& sum = prometheus::BuildSummary().Name("pio_stage_latency_quantiles_seconds").Help("Latency quantiles per stage (10 min window)").Register(*registry_);
  for (const auto& name : stages())
    stages_[name] = {&hist.Add({{"stage", name}}, latency_buckets()),
                     &sum.Add({{"stage", name}}, quantiles(), kQuantileWindow, kQuantileWindowSteps), 0};
  outcomes_ = &prometheus::BuildCounter().Name("pio_requests_total").Help("Requests by outcome").Register(*registry_);
  auto& tokens = prometheus::BuildCounter().Name("pio_tokens_total").Help("Tokens by kind").Register(*registry_);
  prompt_tokens_ = &tokens.Add({{"kind", "prompt"}});
  generated_tokens_ = &tokens.Add({{"kind", "generated"}});
  cached_tokens_ = &tokens.Add({{"kind", "cached"}});
  auto& sequences = prometheus::BuildGauge().Name("pio_sequences").Help("Requests in the node by state").Register(*registry_);
  running_ = &sequences.Add({{"state", "running"}});
  queued_ = &sequences.Add({{"state", "queued"}});
  auto& kv = prometheus::BuildGauge().Name("pio_kv_blocks").Help("KV cache blocks").Register(*registry_);
  kv_blocks_used_ = &kv.Add({{"state", "used"}});
  kv_blocks_total_ = &kv.Add({{"state", "total"}});
  rss_bytes_ = &prometheus::BuildGauge().Name("pio_resident_memory_bytes").Help("Resident set size of the node").Register(*registry_).Add({});
  device_memory_ = &prometheus::BuildGauge()
                        .Name("pio_device_memory_bytes")
                        .Help("The workers' CUDA device memory in use and in all (0 on the CPU)")
                        .Register(*registry_);
  device_transfer_s_ = &prometheus::BuildGauge()
                            .Name("pio_device_transfer_seconds")
                            .Help("Seconds the workers' CUDA devices spent on host-device copies since they started")
                            .Register(*registry_)
                            .Add({});
  batch_size_ = &prometheus::BuildHistogram().Name("pio_batch_sequences").Help("Sequences per engine step").Register(*registry_)
                     .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128});
  token_budget_ = &prometheus::BuildGauge().Name("pio_token_budget").Help("The batcher's tokens per step").Register(*registry_).Add({});
  cache_bytes_ = &prometheus::BuildGauge().Name("pio_cache_bytes").Help("Bytes held by each cache tier").Register(*registry_);
  cache_entries_ = &prometheus::BuildGauge().Name("pio_cache_entries").Help("Entries in each cache tier").Register(*registry_);
  cache_events_ = &prometheus::BuildCounter().Name("pio_cache_events_total")
                       .Help("Cache tier events: hit, miss, eviction, promotion, corrupt (dropped)").Register(*registry_);
  worker_sequences_ = &prometheus::BuildGauge().Name("pio_worker_sequences").Help("Sequences in each worker by state").Register(*registry_);
  worker_kv_blocks_ = &prometheus::BuildGauge().Name("pio_worker_kv_blocks").Help("KV cache blocks of each worker").Register(*registry_);
  worker_requests_ = &prometheus::BuildGauge().Name("pio_worker_requests").Help("Requests placed on each worker, not yet ended").Register(*registry_);
  worker_cache_bytes_ = &prometheus::BuildGauge().Name("pio_worker_cache_bytes").Help("Bytes held by each worker's cache tiers").Register(*registry_);
}

void Profiler::stage(const std::string& name, double ms) {
  const auto it = stages_.find(name);
  if (it == stages_.end() || !(ms >= 0)) return;
  it->second.histogram->Observe(ms / 1000);
  it->second.summary->Observe(ms / 1000);
  it->second.max_ms = std::max(it->second.max_ms, ms);
}

void Profiler::step(const StepStats& s) {
  if (s.sequences > 0) {
    batch_size_->Observe(static_cast<double>(s.sequences));
    stage("step", s.ms);
  }
  max_batch_size_ = std::max(max_batch_size_, s.sequences);
  last_budget_ = s.token_budget;
  preemptions_ += s.preempted;
  token_budget_->Set(static_cast<double>(s.token_budget));
}

void Profiler::finished(const std::string& outcome, const Usage& usage) {
  outcomes_->Add({{"outcome", outcome}}).Increment();
  ++outcome_counts_[outcome];
  prompt_tokens_->Increment(static_cast<double>(usage.prompt_tokens));
  generated_tokens_->Increment(static_cast<double>(usage.completion_tokens));
  cached_tokens_->Increment(static_cast<double>(usage.cached_tokens));
}

void Profiler::load(const std::vector<WorkerStats>& workers, int64_t running, int64_t queued) {
  const EngineLoad load = sum_loads(workers);
  running_->Set(static_cast<double>(running));
  queued_->Set(static_cast<double>(queued));
  kv_blocks_used_->Set(static_cast<double>(load.kv_blocks_used));
  kv_blocks_total_->Set(static_cast<double>(load.kv_blocks_total));
  worker_metrics(workers);
  rss_bytes_->Set(resident_mb() * 1024 * 1024);
  device_memory_->Add({{"state", "used"}}).Set(static_cast<double>(load.device_memory_used));
  device_memory_->Add({{"state", "total"}}).Set(static_cast<double>(load.device_memory_total));
  device_transfer_s_->Set(load.device_transfer_s);
  if (!cache_) return;
  for (const CacheTierStats& t : cache_->stats()) {
    cache_bytes_->Add({{"tier", t.tier}}).Set(static_cast<double>(t.bytes));
    cache_entries_->Add({{"tier", t.tier}}).Set(static_cast<double>(t.entries));
    CacheTierStats& seen = cache_seen_[t.tier];
    for (const auto& [event, now, before] : {std::tuple{"hit", t.hits, seen.hits}, {"miss", t.misses, seen.misses},
                                            {"eviction", t.evictions, seen.evictions},
                                            {"promotion", t.promotions, seen.promotions},
                                            {"corrupt", t.corrupt_dropped, seen.corrupt_dropped}})
      if (now > before) cache_events_->Add({{"tier", t.tier}, {"event", event}}).Increment(static_cast<double>(now - before));
    seen = t;
  }
}

void Profiler::worker_metrics(const std::vector<WorkerStats>& workers) {
  for (auto& [id, gauges] : worker_gauges_)  // every worker's series go; those still here come back below
    for (auto& [family, gauge] : gauges) family->Remove(gauge);
  worker_gauges_.clear();
  for (const WorkerStats& w : workers) {
    auto& gauges = worker_gauges_[w.id];
    const std::string id = std::to_string(w.id);
    const auto set = [&gauges, &id](prometheus::Family<prometheus::Gauge>* family, const char* label, const std::string& value,
                                    double x) {
      prometheus::Gauge* g = label ? &family->Add({{"worker", id}, {label, value}}) : &family->Add({{"worker", id}});
      g->Set(x);
      gauges.emplace_back(family, g);
    };
    const EngineLoad& l = w.report.load;
    set(worker_sequences_, "state", "running", static_cast<double>(l.running));
    set(worker_sequences_, "state", "waiting", static_cast<double>(l.waiting));
    set(worker_kv_blocks_, "state", "used", static_cast<double>(l.kv_blocks_used));
    set(worker_kv_blocks_, "state", "total", static_cast<double>(l.kv_blocks_total));
    set(worker_requests_, nullptr, "", static_cast<double>(w.in_flight));
    for (const CacheTierStats& t : w.report.cache) set(worker_cache_bytes_, "tier", t.tier, static_cast<double>(t.bytes));
  }
}

StatsReport Profiler::report(const std::vector<WorkerStats>& workers, int64_t running, int64_t queued) const {
  const EngineLoad load = sum_loads(workers);
  StatsReport r;
  r.workers = workers;
  r.requests = outcome_counts_;
  r.running = running;
  r.queued = queued;
  r.engine_sequences = load.running;
  r.engine_waiting = load.waiting;
  r.max_batch_size = max_batch_size_;
  r.token_budget = last_budget_;
  r.preemptions = preemptions_;
  r.kv_blocks_used = load.kv_blocks_used;
  r.kv_blocks_total = load.kv_blocks_total;
  r.rss_mb = resident_mb();
  r.device_memory_used_mb = static_cast<double>(load.device_memory_used) / (1 << 20);
  r.device_memory_total_mb = static_cast<double>(load.device_memory_total) / (1 << 20);
  r.device_transfer_s = load.device_transfer_s;
  r.prompt_tokens = static_cast<int64_t>(prompt_tokens_->Value());
  r.generated_tokens = static_cast<int64_t>(generated_tokens_->Value());
  r.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  r.generated_tok_s = r.uptime_s > 0 ? static_cast<double>(r.generated_tokens) / r.uptime_s : 0;
  for (const auto& name : stages()) {
    const Stage& s = stages_.at(name);
    const prometheus::ClientMetric m = s.summary->Collect();
    LatencySummary l{name, static_cast<int64_t>(m.summary.sample_count), 0, 0, 0, s.max_ms};
    for (const auto& q : m.summary.quantile) {
      const double v = std::isnan(q.value) ? LatencySummary::kNoSample : q.value * 1000;  // NaN: none in the window
      if (q.quantile == 0.5) l.p50_ms = v;
      if (q.quantile == 0.9) l.p90_ms = v;
      if (q.quantile == 0.99) l.p99_ms = v;
    }
    r.latencies.push_back(l);
  }
  r.hardware = hardware_;
  r.configuration = configuration_;
  if (cache_) {
    r.cache = cache_->stats();
    r.cache_status = cache_->has_disk() ? "warm and cold tiers in " + cache_->dir().string()
                                        : "memory only" + (cache_->disk_error().empty() ? "" : ": " + cache_->disk_error());
  }
  return r;
}

double resident_mb() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

std::string describe_hardware(const Backend* device) {
  const double mem_gb = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1e9;
  return std::to_string(std::thread::hardware_concurrency()) + " cores, SIMD " +
         (cpu::has_avx512_bf16() ? "AVX-512 BF16" : "AVX2+FMA") + ", " + std::to_string(static_cast<int>(mem_gb + 0.5)) +
         " GB memory, GPU: " + (device && !device->shares_host_memory() ? device->name() : "none (CPU backend)");
}

}  // namespace pio
