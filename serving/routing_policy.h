// Routing policies of the cluster's router: which joined worker (engine group) a request goes
// to. Plain classes, not thread-safe; the router actor owns one and feeds it what it knows.
//   round_robin      the workers in turn, by id.
//   least_loaded     the lowest load (load_key below), the lowest id among equals.
//   prefix_affinity  the worker that holds the longest leading run of the prompt's prefix-cache
//                    block keys (images included: a key after an image covers its content hash),
//                    unless it is overloaded next to the least-loaded one; then least_loaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace pio {

// What the router knows of one joined worker (engine group) when it places a request.
struct WorkerView {
  uint32_t id = 0;            // the router's id for the worker (join order, never reused)
  int64_t in_flight = 0;      // requests the router placed there and that have not ended
  int64_t running = 0;        // from the worker's last load report: running sequences
  int64_t waiting = 0;        //   sequences queued in the worker (vision included)
  int64_t kv_blocks_free = 0; //   free KV blocks
  int64_t kv_blocks_total = 0;
  double step_ms = 0;         //   its recent step time
};

// A worker's load in requests: max(in_flight, running + waiting). in_flight is the router's own
// count, current at every placement; the report, older, still shows work the router did not
// count (requests a previous frontend placed there).
int64_t load_score(const WorkerView& w);

// The least-loaded order, compared lexicographically, smaller first: load_score, then the
// fraction of KV blocks in use (0 when the worker reported none; a fuller cache preempts
// sooner), then the id.
std::tuple<int64_t, double, uint32_t> load_key(const WorkerView& w);

// The index in `workers` (non-empty) of the smallest load_key.
size_t least_loaded_index(const std::vector<WorkerView>& workers);

class RoutingPolicy {
 public:
  virtual ~RoutingPolicy() = default;
  // Picks one of `workers` (never empty) for a request whose prompt has these prefix-cache block keys
  // (the KV block-hash chain in prompt order, images standing for their content hash; may be empty).
  virtual uint32_t choose(const std::vector<WorkerView>& workers, const std::vector<std::string>& prefix_keys) = 0;
  // The request was placed on `worker` (learn which worker now holds which prefix blocks).
  virtual void placed(uint32_t worker, const std::vector<std::string>& prefix_keys) { (void)worker; (void)prefix_keys; }
  // The worker left or died: forget what it held.
  virtual void left(uint32_t worker) { (void)worker; }
  virtual std::string name() const = 0;
};

// prefix_affinity. Remembers at most `max_entries` (block key, worker) pairs, the least recently
// placed dropped first; a prompt's keys are refreshed with its first key the most recent, so a
// chain loses its tail before its head (a tail key without its head never matches). A key may be
// held by several workers; the longest run wins, the least loaded among equal runs. The chosen
// worker is overloaded, and the least-loaded one is taken instead, when its load_score exceeds
// the least-loaded's by more than `max_excess` requests. Throws std::invalid_argument for
// max_entries 0 or a negative max_excess.
class PrefixAffinityPolicy final : public RoutingPolicy {
 public:
  static constexpr size_t kDefaultMaxEntries = size_t{1} << 16;
  static constexpr int64_t kDefaultMaxExcess = 4;

  explicit PrefixAffinityPolicy(size_t max_entries = kDefaultMaxEntries, int64_t max_excess = kDefaultMaxExcess);
  ~PrefixAffinityPolicy() override;

  uint32_t choose(const std::vector<WorkerView>& workers, const std::vector<std::string>& prefix_keys) override;
  void placed(uint32_t worker, const std::vector<std::string>& prefix_keys) override;
  void left(uint32_t worker) override;
  std::string name() const override { return "prefix_affinity"; }

  // The number of leading `prefix_keys` that `worker` holds, as far as this policy remembers.
  size_t matched(uint32_t worker, const std::vector<std::string>& prefix_keys) const;
  // (key, worker) pairs remembered now (at most max_entries).
  size_t remembered() const;

 private:
  struct Memory;
  std::unique_ptr<Memory> memory_;
  int64_t max_excess_;
};

// "round_robin", "least_loaded", "prefix_affinity" (with the default bounds); throws
// std::invalid_argument naming the accepted values for anything else.
std::unique_ptr<RoutingPolicy> make_routing_policy(const std::string& name);

}  // namespace pio
