// The profiler's plain class: per-stage latency histograms (queue wait, preprocess, tokenize,
// vision encode, prefill, time to first token, inter-token latency, step time), request
// outcomes, token counters, batch sizes and the token budget, kept in a prometheus-cpp registry
// (so the HTTP gateway can serve them as /metrics) and summarised for `pio stats`.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>

#include "gpu/backend.h"
#include "messages/events.h"
#include "messages/pipeline.h"
#include "messages/stats.h"
#include "storage/tiered_cache.h"

namespace pio {

class Profiler {
 public:
  // The stages with latency figures, in report order.
  static const std::vector<std::string>& stages();

  Profiler(std::string hardware, std::string configuration);

  // One observation of a stage's latency in milliseconds; unknown stage names are ignored.
  void stage(const std::string& name, double ms);
  void step(const StepStats& s);
  // A request ended: outcome is its finish reason (stop, length, cancelled, error) or "refused".
  void finished(const std::string& outcome, const Usage& usage);

  // The node's current load, kept as gauges (running, queued, KV blocks, RSS) for /metrics, and
  // each worker's (a `worker` label; a worker that left disappears).
  void load(const std::vector<WorkerStats>& workers, int64_t running, int64_t queued);
  // The tiered cache whose per-tier figures the report carries (thread-safe to read).
  void watch_cache(std::shared_ptr<const TieredCache> cache) { cache_ = std::move(cache); }

  StatsReport report(const std::vector<WorkerStats>& workers, int64_t running, int64_t queued) const;
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  struct Stage {
    prometheus::Histogram* histogram;
    prometheus::Summary* summary;
    double max_ms = 0;
  };
  std::shared_ptr<prometheus::Registry> registry_;
  std::map<std::string, Stage> stages_;
  prometheus::Family<prometheus::Counter>* outcomes_;
  std::map<std::string, int64_t> outcome_counts_;
  prometheus::Counter* prompt_tokens_;
  prometheus::Counter* generated_tokens_;
  prometheus::Counter* cached_tokens_;
  prometheus::Gauge* running_;
  prometheus::Gauge* queued_;
  prometheus::Gauge* kv_blocks_used_;
  prometheus::Gauge* kv_blocks_total_;
  prometheus::Gauge* rss_bytes_;
  prometheus::Family<prometheus::Gauge>* device_memory_;  // state: used, total
  prometheus::Gauge* device_transfer_s_;
  prometheus::Histogram* batch_size_;
  prometheus::Gauge* token_budget_;
  int64_t max_batch_size_ = 0;
  int64_t last_budget_ = 0;
  int64_t preemptions_ = 0;
  std::string hardware_, configuration_;
  std::shared_ptr<const TieredCache> cache_;
  // The cache's tiers for /metrics: sizes as gauges, its cumulative counts as counters moved by
  // what changed since the last load().
  prometheus::Family<prometheus::Gauge>* cache_bytes_;
  prometheus::Family<prometheus::Gauge>* cache_entries_;
  prometheus::Family<prometheus::Counter>* cache_events_;
  std::map<std::string, CacheTierStats> cache_seen_;
  // Per worker: its sequences by state, KV blocks, requests placed there, cache tier bytes.
  prometheus::Family<prometheus::Gauge>* worker_sequences_;
  prometheus::Family<prometheus::Gauge>* worker_kv_blocks_;
  prometheus::Family<prometheus::Gauge>* worker_requests_;
  prometheus::Family<prometheus::Gauge>* worker_cache_bytes_;
  std::map<uint32_t, std::vector<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>>> worker_gauges_;
  void worker_metrics(const std::vector<WorkerStats>& workers);
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Resident set size of this process in MiB (from /proc/self/statm), 0 if unknown.
double resident_mb();

// The machine as the node sees it at start: cores, SIMD path, memory, and the GPU that `device`
// (the engine's backend; null for a front end) computes on.
std::string describe_hardware(const Backend* device = nullptr);

}  // namespace pio
