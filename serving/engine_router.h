// Where requests compute: the router's plain class. Engine groups (workers, in this process or
// another) join and leave at any time; each job is placed on one of the workers that take jobs
// by a routing policy (serving/routing_policy.h) over their reported load and the job's prefix
// keys, and the router remembers where, so that a cancellation reaches the right worker and a
// worker that leaves names the jobs it held. A single-process node is one worker that joined.
// Plain class, not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "messages/stats.h"
#include "serving/kv_replicas.h"
#include "serving/routing_policy.h"

namespace pio {

// The workers' last reported loads, summed (KV bytes per block: the largest).
EngineLoad sum_loads(const std::vector<WorkerStats>& workers);

class EngineRouter {
 public:
  // Throws std::invalid_argument for a null policy. kv_replicas: give every job a replica worker
  // (serving/kv_replicas.h) whenever two or more take jobs.
  explicit EngineRouter(std::unique_ptr<RoutingPolicy> policy, bool kv_replicas = false);

  // A worker joined: its id (1, 2, ...; never reused).
  uint32_t join(std::string name);
  // A worker left or died: the jobs (placement ids) it held, forgotten, in ascending order.
  std::vector<uint64_t> leave(uint32_t worker);
  // A draining worker keeps its jobs but is given no new ones.
  void drain(uint32_t worker);
  void report(uint32_t worker, WorkerReport report);
  // A fresher load than the worker's last report (asked for a stats request).
  void update_load(uint32_t worker, const EngineLoad& load);

  // The worker for a new job with these prefix keys, or nothing when no worker takes jobs. A job
  // that replaces placement `previous` (moved off a lost worker) goes to that placement's replica
  // when it still takes jobs (it holds the job's blocks), else where the policy says.
  std::optional<uint32_t> place(uint64_t job, const std::vector<std::string>& prefix_keys, uint64_t previous = 0);
  std::optional<uint32_t> worker_of(uint64_t job) const;
  // The job ended, or a moved one is given up (then `job` is its old placement).
  void ended(uint64_t job);

  // KV replicas: the worker that keeps copies of the job's blocks, if any; and the orders
  // (tell `primary` to copy the job's blocks from the first, or to stop) that joins, leaves,
  // drains, placements and reports (a worker without a cache keeps no copies) gave since the
  // last call.
  std::optional<uint32_t> replica_of(uint64_t job) const { return replicas_.replica_of(job); }
  std::vector<KvReplicaPlan::Order> take_replica_orders() { return std::exchange(orders_, {}); }

  bool has_worker(uint32_t worker) const { return workers_.count(worker) > 0; }
  // Whether some worker takes jobs (joined and not draining).
  bool accepting() const;
  // The workers' last reported loads, summed.
  EngineLoad total_load() const;
  std::vector<WorkerStats> workers() const;

 private:
  // The workers that take jobs; replica_candidates(): those of them that can keep KV copies (not
  // known to lack a tiered cache), least loaded first.
  std::vector<WorkerView> views() const;
  std::vector<uint32_t> replica_candidates() const;
  void add_orders(std::vector<KvReplicaPlan::Order> orders);

  std::unique_ptr<RoutingPolicy> policy_;
  bool kv_replicas_;
  KvReplicaPlan replicas_;
  std::set<uint32_t> without_cache_;  // workers whose last report showed no cache tiers: no copies there
  std::vector<KvReplicaPlan::Order> orders_;
  uint32_t next_id_ = 1;
  std::map<uint32_t, WorkerStats> workers_;
  std::unordered_map<uint64_t, uint32_t> placed_;
};

}  // namespace pio
