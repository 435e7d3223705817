// `pio stats --node HOST:PORT [--json]`: the node profiler's report.
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/client.h"
#include "apps/pio/commands.h"
#include "apps/pio/option_checks.h"

namespace pio::cli {

namespace {

// A percentile over the last 10 minutes: null when no sample fell in them.
nlohmann::ordered_json windowed(double ms) {
  return ms == LatencySummary::kNoSample ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(ms);
}

// The same in a text column: "-" when none.
std::string windowed_text(double ms) {
  if (ms == LatencySummary::kNoSample) return "-";
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << ms;
  return out.str();
}

}  // namespace

nlohmann::ordered_json stats_json(const StatsReport& r) {
  nlohmann::ordered_json latencies = nlohmann::ordered_json::object();
  for (const auto& l : r.latencies)
    latencies[l.stage] = {{"count", l.count}, {"p50", windowed(l.p50_ms)}, {"p90", windowed(l.p90_ms)},
                          {"p99", windowed(l.p99_ms)}, {"max", l.max_ms}};
  nlohmann::ordered_json cache = nlohmann::ordered_json::object();
  for (const auto& t : r.cache)
    cache[t.tier] = {{"entries", t.entries},       {"bytes", t.bytes},         {"limit_bytes", t.limit_bytes},
                     {"hits", t.hits},             {"misses", t.misses},       {"evictions", t.evictions},
                     {"promotions", t.promotions}, {"corrupt_dropped", t.corrupt_dropped}};
  nlohmann::ordered_json workers = nlohmann::ordered_json::array();
  for (const auto& w : r.workers) {
    nlohmann::ordered_json tiers = nlohmann::ordered_json::object();
    for (const auto& t : w.report.cache) tiers[t.tier] = {{"entries", t.entries}, {"bytes", t.bytes}};
    const EngineLoad& l = w.report.load;
    workers.push_back({{"worker", w.id},
                       {"name", w.name},
                       {"draining", w.draining},
                       {"requests", w.in_flight},
                       {"placed", w.placed},
                       {"running", l.running},
                       {"waiting", l.waiting},
                       {"kv_blocks_used", l.kv_blocks_used},
                       {"kv_blocks_total", l.kv_blocks_total},
                       {"step_ms", l.step_ms},
                       {"cache", tiers}});
  }
  return {{"requests", r.requests},
          {"running", r.running},
          {"queued", r.queued},
          {"engine_sequences", r.engine_sequences},
          {"engine_waiting", r.engine_waiting},
          {"max_batch_size", r.max_batch_size},
          {"token_budget", r.token_budget},
          {"preemptions", r.preemptions},
          {"kv_blocks_used", r.kv_blocks_used},
          {"kv_blocks_total", r.kv_blocks_total},
          {"rss_mb", r.rss_mb},
          {"device_memory_used_mb", r.device_memory_used_mb},
          {"device_memory_total_mb", r.device_memory_total_mb},
          {"device_transfer_s", r.device_transfer_s},
          {"prompt_tokens", r.prompt_tokens},
          {"generated_tokens", r.generated_tokens},
          {"generated_tok_s", r.generated_tok_s},
          {"uptime_s", r.uptime_s},
          {"latency_ms", latencies},
          {"hardware", r.hardware},
          {"configuration", r.configuration},
          {"cache", cache},
          {"cache_status", r.cache_status},
          {"workers", workers}};
}

void add_stats(CLI::App& app) {
  auto* cmd = app.add_subcommand("stats", "Print a running node's profiler report");
  struct Args {
    std::string node;
    bool json = false;
    ClientOptions client;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--node", a->node, "the node (HOST:PORT)")->required()->check(host_port());
  cmd->add_flag("--json", a->json, "print JSON");
  add_tls_options(cmd, a->client.tls);
  cmd->callback([a] {
    const auto [host, port] = split_host_port(a->node);
    const StatsReport r = Client::connect(host, port, a->client)->stats();
    if (a->json) {
      std::cout << stats_json(r).dump(2) << "\n";
      return;
    }
    std::cout << "hardware: " << r.hardware << "\nconfiguration: " << r.configuration << "\nrequests:";
    for (const auto& [outcome, n] : r.requests) std::cout << " " << outcome << "=" << n;
    std::cout << "\nrunning: " << r.running << ", queued: " << r.queued << ", largest batch: " << r.max_batch_size
              << " sequences, token budget: " << r.token_budget << ", preemptions: " << r.preemptions
              << "\nKV blocks: " << r.kv_blocks_used << " / " << r.kv_blocks_total << ", RSS: " << std::fixed
              << std::setprecision(1) << r.rss_mb << " MiB";
    if (r.device_memory_total_mb > 0)
      std::cout << ", device memory: " << r.device_memory_used_mb << " / " << r.device_memory_total_mb
                << " MiB, transfers: " << r.device_transfer_s << " s";
    std::cout << "\ntokens: " << r.prompt_tokens << " prompt, "
              << r.generated_tokens << " generated (" << r.generated_tok_s << " tok/s over " << r.uptime_s << " s)\n"
              << "latency (ms)      count     p50     p90     p99     max   (count and max since start; "
                 "percentiles over the last 10 minutes, - when none)\n";
    for (const auto& l : r.latencies)
      std::cout << std::left << std::setw(16) << l.stage << std::right << std::setw(7) << l.count << std::setw(8)
                << windowed_text(l.p50_ms) << std::setw(8) << windowed_text(l.p90_ms) << std::setw(8)
                << windowed_text(l.p99_ms) << std::setw(8) << l.max_ms << "\n";
    for (const auto& w : r.workers) {
      const EngineLoad& l = w.report.load;
      std::cout << "worker " << w.id << " (" << w.name << (w.draining ? ", draining" : "") << "): " << w.in_flight
                << " requests (" << w.placed << " placed), running " << l.running << ", waiting " << l.waiting
                << ", KV blocks " << l.kv_blocks_used << " / " << l.kv_blocks_total << ", step " << l.step_ms << " ms";
      for (const auto& t : w.report.cache) std::cout << ", " << t.tier << " " << t.entries << " entries";
      std::cout << "\n";
    }
    if (r.cache.empty()) return;
    std::cout << "cache: " << r.cache_status << "\ntier  entries       MiB  hits  misses  evictions  promotions  corrupt\n";
    for (const auto& t : r.cache)
      std::cout << std::left << std::setw(5) << t.tier << std::right << std::setw(8) << t.entries << std::setw(10)
                << static_cast<double>(t.bytes) / (1 << 20) << std::setw(6) << t.hits << std::setw(8) << t.misses
                << std::setw(11) << t.evictions << std::setw(12) << t.promotions << std::setw(9) << t.corrupt_dropped
                << "\n";
  });
}

}  // namespace pio::cli
