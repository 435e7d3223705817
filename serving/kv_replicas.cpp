#include "serving/kv_replicas.h"

#include <algorithm>
#include <stdexcept>

namespace pio {

std::vector<KvBlocks> split_kv_blocks(KvBlocks blocks, int64_t max_bytes) {
  if (max_bytes <= 0) throw std::invalid_argument("split_kv_blocks: max_bytes must be positive");
  if (blocks.keys.size() != blocks.blocks.size())
    throw std::invalid_argument("split_kv_blocks: " + std::to_string(blocks.keys.size()) + " keys for " +
                                std::to_string(blocks.blocks.size()) + " blocks");
  std::vector<KvBlocks> out;
  int64_t bytes = 0;
  for (size_t i = 0; i < blocks.keys.size(); ++i) {
    const auto size = static_cast<int64_t>(blocks.blocks[i].size());
    if (out.empty() || (bytes > 0 && bytes + size > max_bytes)) {
      out.push_back(KvBlocks{blocks.job, {}, {}});
      bytes = 0;
    }
    out.back().keys.push_back(std::move(blocks.keys[i]));
    out.back().blocks.push_back(std::move(blocks.blocks[i]));
    bytes += size;
  }
  return out;
}

std::optional<KvReplicaPlan::Order> KvReplicaPlan::assign(uint64_t job, Job& j, const std::vector<uint32_t>& by_load) {
  j.replica.reset();
  const auto it = std::find_if(by_load.begin(), by_load.end(), [&](uint32_t w) { return w != j.primary; });
  if (it == by_load.end()) return std::nullopt;
  j.replica = *it;
  return Order{j.primary, job};
}

KvReplicaPlan::Order KvReplicaPlan::reassign(uint64_t job, Job& j, const std::vector<uint32_t>& by_load) {
  if (const auto order = assign(job, j, by_load)) return *order;
  return Order{j.primary, job, false};
}

std::optional<KvReplicaPlan::Order> KvReplicaPlan::placed(uint64_t job, uint32_t primary,
                                                          const std::vector<uint32_t>& by_load) {
  Job& j = jobs_[job];
  j = Job{primary, std::nullopt, false};
  return assign(job, j, by_load);
}

std::vector<KvReplicaPlan::Order> KvReplicaPlan::joined(const std::vector<uint32_t>& by_load) {
  std::vector<Order> orders;
  for (auto& [job, j] : jobs_)
    if (!j.orphaned && !j.replica)
      if (const auto order = assign(job, j, by_load)) orders.push_back(*order);
  return orders;
}

std::vector<KvReplicaPlan::Order> KvReplicaPlan::draining(uint32_t worker, const std::vector<uint32_t>& by_load) {
  std::vector<Order> orders;
  for (auto& [job, j] : jobs_)
    if (!j.orphaned && j.replica == worker) orders.push_back(reassign(job, j, by_load));
  return orders;
}

std::vector<KvReplicaPlan::Order> KvReplicaPlan::left(uint32_t worker, const std::vector<uint32_t>& by_load) {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    Job& j = it->second;
    if (j.orphaned && j.replica == worker) {
      it = jobs_.erase(it);  // neither copy is left
      continue;
    }
    if (j.primary == worker) j.orphaned = true;
    ++it;
  }
  return draining(worker, by_load);
}

std::optional<uint32_t> KvReplicaPlan::takeover(uint64_t job) {
  const auto it = jobs_.find(job);
  if (it == jobs_.end() || !it->second.orphaned) return std::nullopt;
  const auto replica = it->second.replica;
  jobs_.erase(it);
  return replica;
}

std::optional<uint32_t> KvReplicaPlan::replica_of(uint64_t job) const {
  const auto it = jobs_.find(job);
  if (it == jobs_.end() || it->second.orphaned) return std::nullopt;
  return it->second.replica;
}

}  // namespace pio
