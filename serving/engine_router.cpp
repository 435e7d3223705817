#include "serving/engine_router.h"

#include <algorithm>
#include <stdexcept>

namespace pio {

EngineLoad sum_loads(const std::vector<WorkerStats>& workers) {
  EngineLoad sum;
  for (const auto& w : workers) {
    const EngineLoad& l = w.report.load;
    sum.running += l.running;
    sum.waiting += l.waiting;
    sum.kv_blocks_used += l.kv_blocks_used;
    sum.kv_blocks_total += l.kv_blocks_total;
    sum.kv_bytes_per_block = std::max(sum.kv_bytes_per_block, l.kv_bytes_per_block);
    sum.kv_blocks_touched += l.kv_blocks_touched;
    sum.image_bytes += l.image_bytes;
    sum.step_ms = std::max(sum.step_ms, l.step_ms);
    sum.device_memory_used += l.device_memory_used;
    sum.device_memory_total += l.device_memory_total;
    sum.device_transfer_s += l.device_transfer_s;
  }
  return sum;
}

EngineRouter::EngineRouter(std::unique_ptr<RoutingPolicy> policy, bool kv_replicas)
    : policy_(std::move(policy)), kv_replicas_(kv_replicas) {
  if (!policy_) throw std::invalid_argument("engine router: no routing policy");
}

uint32_t EngineRouter::join(std::string name) {
  const uint32_t id = next_id_++;
  WorkerStats w;
  w.id = id;
  w.name = std::move(name);
  workers_.emplace(id, std::move(w));
  if (kv_replicas_) add_orders(replicas_.joined(replica_candidates()));
  return id;
}

std::vector<uint64_t> EngineRouter::leave(uint32_t worker) {
  std::vector<uint64_t> held;
  for (const auto& [job, w] : placed_)
    if (w == worker) held.push_back(job);
  for (uint64_t job : held) placed_.erase(job);
  std::sort(held.begin(), held.end());
  workers_.erase(worker);
  without_cache_.erase(worker);
  policy_->left(worker);
  if (kv_replicas_) add_orders(replicas_.left(worker, replica_candidates()));
  return held;
}

void EngineRouter::drain(uint32_t worker) {
  const auto it = workers_.find(worker);
  if (it == workers_.end()) return;
  it->second.draining = true;
  if (kv_replicas_) add_orders(replicas_.draining(worker, replica_candidates()));
}

void EngineRouter::report(uint32_t worker, WorkerReport report) {
  const auto it = workers_.find(worker);
  if (it == workers_.end()) return;
  const bool cacheless = report.cache.empty();
  it->second.report = std::move(report);
  if (!cacheless) {
    without_cache_.erase(worker);
  } else if (without_cache_.insert(worker).second && kv_replicas_) {
    add_orders(replicas_.draining(worker, replica_candidates()));  // its copies go nowhere: another keeps them
  }
}

void EngineRouter::update_load(uint32_t worker, const EngineLoad& load) {
  if (const auto it = workers_.find(worker); it != workers_.end()) it->second.report.load = load;
}

bool EngineRouter::accepting() const {
  return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return !w.second.draining; });
}

std::vector<WorkerView> EngineRouter::views() const {
  std::vector<WorkerView> views;
  for (const auto& [id, w] : workers_) {
    if (w.draining) continue;
    const EngineLoad& l = w.report.load;
    views.push_back({id, w.in_flight, l.running, l.waiting, l.kv_blocks_total - l.kv_blocks_used, l.kv_blocks_total,
                     l.step_ms});
  }
  return views;
}

std::vector<uint32_t> EngineRouter::replica_candidates() const {
  auto v = views();
  std::erase_if(v, [this](const WorkerView& w) { return without_cache_.count(w.id) > 0; });
  std::sort(v.begin(), v.end(), [](const WorkerView& a, const WorkerView& b) { return load_key(a) < load_key(b); });
  std::vector<uint32_t> ids;
  for (const auto& w : v) ids.push_back(w.id);
  return ids;
}

void EngineRouter::add_orders(std::vector<KvReplicaPlan::Order> orders) {
  orders_.insert(orders_.end(), orders.begin(), orders.end());
}

std::optional<uint32_t> EngineRouter::place(uint64_t job, const std::vector<std::string>& prefix_keys, uint64_t previous) {
  if (const auto w = worker_of(job)) return w;
  const auto views = this->views();
  if (views.empty()) return std::nullopt;
  const auto warm = previous ? replicas_.takeover(previous) : std::nullopt;
  const bool warm_takes_jobs = warm && std::any_of(views.begin(), views.end(), [&](const WorkerView& v) { return v.id == *warm; });
  const uint32_t chosen = warm_takes_jobs ? *warm : policy_->choose(views, prefix_keys);
  WorkerStats& w = workers_.at(chosen);
  ++w.in_flight;
  ++w.placed;
  placed_[job] = chosen;
  policy_->placed(chosen, prefix_keys);
  if (kv_replicas_)
    if (const auto order = replicas_.placed(job, chosen, replica_candidates())) orders_.push_back(*order);
  return chosen;
}

std::optional<uint32_t> EngineRouter::worker_of(uint64_t job) const {
  const auto it = placed_.find(job);
  if (it == placed_.end()) return std::nullopt;
  return it->second;
}

void EngineRouter::ended(uint64_t job) {
  replicas_.ended(job);
  const auto it = placed_.find(job);
  if (it == placed_.end()) return;
  if (const auto w = workers_.find(it->second); w != workers_.end()) --w->second.in_flight;
  placed_.erase(it);
}

EngineLoad EngineRouter::total_load() const { return sum_loads(workers()); }

std::vector<WorkerStats> EngineRouter::workers() const {
  std::vector<WorkerStats> out;
  for (const auto& [id, w] : workers_) out.push_back(w);
  return out;
}

}  // namespace pio
