// The profiler's report (`pio stats`): request outcomes, queue and batch figures, KV use,
// memory, throughput and per-stage latency summaries, plus the hardware and configuration
// detected at start.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/pipeline.h"
#include "storage/cache_stats.h"

namespace pio {

struct LatencySummary {
  std::string stage;  // queue_wait, preprocess, tokenize, vision_encode, prefill, ttft, itl, step
  // No latency is negative: a percentile with no sample in its window. (Not NaN: CAF 0.17's
  // float packing has no NaN and would deliver -1 to a remote `pio stats` anyway, by accident.)
  static constexpr double kNoSample = -1;
  int64_t count = 0;     // since the node started, as max_ms
  double p50_ms = 0, p90_ms = 0, p99_ms = 0;  // over the last 10 minutes; kNoSample when none fell in them
  double max_ms = 0;
};

// What a worker reports every few hundred milliseconds.
struct WorkerReport {
  EngineLoad load;
  std::vector<CacheTierStats> cache;  // its tiered cache; empty without one
};

// One worker as `pio stats` and /metrics show it.
struct WorkerStats {
  uint32_t id = 0;
  std::string name;
  bool draining = false;
  int64_t in_flight = 0;  // requests placed there that have not ended
  int64_t placed = 0;     // requests placed there since it joined
  WorkerReport report;
};

struct StatsReport {
  std::map<std::string, int64_t> requests;  // by outcome: stop, length, cancelled, error, refused
  int64_t running = 0;
  int64_t queued = 0;
  int64_t engine_sequences = 0;  // what the engine groups hold: running sequences...
  int64_t engine_waiting = 0;    // ...and jobs waiting for a sequence or the vision encoder
  int64_t max_batch_size = 0;  // most sequences in one step since start
  int64_t token_budget = 0;    // the batcher's current per-step budget
  int64_t preemptions = 0;     // sequences preempted since start
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_total = 0;
  double rss_mb = 0;
  double device_memory_used_mb = 0;   // the workers' CUDA devices (0 on the CPU)
  double device_memory_total_mb = 0;
  double device_transfer_s = 0;       // their upload/download copy time since start
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double generated_tok_s = 0;  // since start
  double uptime_s = 0;
  std::vector<LatencySummary> latencies;
  std::string hardware;        // detected at start
  std::string configuration;   // derived from it and the flags
  std::vector<CacheTierStats> cache;  // hot, warm, cold; empty with --no-cache
  std::string cache_status;    // where the cache keeps its files, or why it runs in memory only
  std::vector<WorkerStats> workers;  // the engine groups that joined, by id
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, LatencySummary& x) {
  return f(caf::meta::type_name("pio::LatencySummary"), x.stage, x.count, x.p50_ms, x.p90_ms, x.p99_ms, x.max_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, CacheTierStats& x) {
  return f(caf::meta::type_name("pio::CacheTierStats"), x.tier, x.entries, x.bytes, x.limit_bytes, x.hits, x.misses,
           x.evictions, x.promotions, x.corrupt_dropped);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, WorkerReport& x) {
  return f(caf::meta::type_name("pio::WorkerReport"), x.load, x.cache);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, WorkerStats& x) {
  return f(caf::meta::type_name("pio::WorkerStats"), x.id, x.name, x.draining, x.in_flight, x.placed, x.report);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, StatsReport& x) {
  return f(caf::meta::type_name("pio::StatsReport"), x.requests, x.running, x.queued, x.engine_sequences,
           x.engine_waiting, x.max_batch_size,
           x.token_budget, x.preemptions, x.kv_blocks_used, x.kv_blocks_total, x.rss_mb, x.device_memory_used_mb, x.device_memory_total_mb, x.device_transfer_s, x.prompt_tokens, x.generated_tokens,
           x.generated_tok_s, x.uptime_s, x.latencies, x.hardware, x.configuration, x.cache, x.cache_status, x.workers);
}

}  // namespace pio
