#include "serving/routing_policy.h"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <tuple>

#include <boost/multi_index/composite_key.hpp>
#include <boost/multi_index/hashed_index.hpp>
#include <boost/multi_index/member.hpp>
#include <boost/multi_index/ordered_index.hpp>
#include <boost/multi_index/sequenced_index.hpp>
#include <boost/multi_index_container.hpp>

namespace pio {

int64_t load_score(const WorkerView& w) { return std::max(w.in_flight, w.running + w.waiting); }

std::tuple<int64_t, double, uint32_t> load_key(const WorkerView& w) {
  const double kv_used = w.kv_blocks_total > 0
                             ? 1.0 - static_cast<double>(w.kv_blocks_free) / static_cast<double>(w.kv_blocks_total)
                             : 0.0;
  return {load_score(w), kv_used, w.id};
}

size_t least_loaded_index(const std::vector<WorkerView>& workers) {
  size_t best = 0;
  for (size_t i = 1; i < workers.size(); ++i)
    if (load_key(workers[i]) < load_key(workers[best])) best = i;
  return best;
}

namespace {

class RoundRobin final : public RoutingPolicy {
 public:
  // The next id after the last one chosen, wrapping to the lowest: a worker joining or leaving
  // does not restart the cycle.
  uint32_t choose(const std::vector<WorkerView>& workers, const std::vector<std::string>&) override {
    std::optional<uint32_t> lowest, next;
    for (const WorkerView& w : workers) {
      if (!lowest || w.id < *lowest) lowest = w.id;
      if (last_ && w.id > *last_ && (!next || w.id < *next)) next = w.id;
    }
    last_ = next ? *next : *lowest;
    return *last_;
  }
  std::string name() const override { return "round_robin"; }

 private:
  std::optional<uint32_t> last_;
};

class LeastLoaded final : public RoutingPolicy {
 public:
  uint32_t choose(const std::vector<WorkerView>& workers, const std::vector<std::string>&) override {
    return workers[least_loaded_index(workers)].id;
  }
  std::string name() const override { return "least_loaded"; }
};

}  // namespace

// The bounded memory of which worker holds which block key: one entry per (key, worker), in
// order of use (front: most recent), found by (key, worker) and by worker.
struct PrefixAffinityPolicy::Memory {
  struct Entry {
    std::string key;
    uint32_t worker;
  };
  struct ByUse {};
  struct ByPair {};
  struct ByWorker {};
  using Set = boost::multi_index_container<
      Entry,
      boost::multi_index::indexed_by<
          boost::multi_index::sequenced<boost::multi_index::tag<ByUse>>,
          boost::multi_index::ordered_unique<
              boost::multi_index::tag<ByPair>,
              boost::multi_index::composite_key<Entry, boost::multi_index::member<Entry, std::string, &Entry::key>,
                                                boost::multi_index::member<Entry, uint32_t, &Entry::worker>>>,
          boost::multi_index::hashed_non_unique<boost::multi_index::tag<ByWorker>,
                                                boost::multi_index::member<Entry, uint32_t, &Entry::worker>>>>;

  explicit Memory(size_t max) : max_entries(max) {}

  bool holds(uint32_t worker, const std::string& key) const {
    const auto& by_pair = set.get<ByPair>();
    return by_pair.find(std::forward_as_tuple(key, worker)) != by_pair.end();
  }

  // Makes (key, worker) the most recently used entry, dropping the least recent past the bound.
  void touch(uint32_t worker, const std::string& key) {
    auto& by_use = set.get<ByUse>();
    const auto& by_pair = set.get<ByPair>();
    if (const auto it = by_pair.find(std::forward_as_tuple(key, worker)); it != by_pair.end()) {
      by_use.relocate(by_use.begin(), set.project<ByUse>(it));
      return;
    }
    by_use.push_front(Entry{key, worker});
    if (by_use.size() > max_entries) by_use.pop_back();
  }

  size_t max_entries;
  Set set;
};

PrefixAffinityPolicy::PrefixAffinityPolicy(size_t max_entries, int64_t max_excess)
    : memory_(std::make_unique<Memory>(max_entries)), max_excess_(max_excess) {
  if (max_entries == 0) throw std::invalid_argument("prefix_affinity: max_entries must be at least 1");
  if (max_excess < 0) throw std::invalid_argument("prefix_affinity: max_excess must not be negative");
}

PrefixAffinityPolicy::~PrefixAffinityPolicy() = default;

size_t PrefixAffinityPolicy::matched(uint32_t worker, const std::vector<std::string>& prefix_keys) const {
  size_t n = 0;
  while (n < prefix_keys.size() && memory_->holds(worker, prefix_keys[n])) ++n;
  return n;
}

size_t PrefixAffinityPolicy::remembered() const { return memory_->set.size(); }

uint32_t PrefixAffinityPolicy::choose(const std::vector<WorkerView>& workers,
                                      const std::vector<std::string>& prefix_keys) {
  const WorkerView& least = workers[least_loaded_index(workers)];
  const WorkerView* best = nullptr;
  size_t best_run = 0;
  for (const WorkerView& w : workers) {
    const size_t run = matched(w.id, prefix_keys);
    if (run > best_run || (run == best_run && run > 0 && load_key(w) < load_key(*best))) {
      best = &w;
      best_run = run;
    }
  }
  if (!best || load_score(*best) - load_score(least) > max_excess_) return least.id;
  return best->id;
}

void PrefixAffinityPolicy::placed(uint32_t worker, const std::vector<std::string>& prefix_keys) {
  // Last key first, so that the first key ends the most recent and the tail is dropped first.
  for (auto it = prefix_keys.rbegin(); it != prefix_keys.rend(); ++it) memory_->touch(worker, *it);
}

void PrefixAffinityPolicy::left(uint32_t worker) { memory_->set.get<Memory::ByWorker>().erase(worker); }

std::unique_ptr<RoutingPolicy> make_routing_policy(const std::string& name) {
  if (name == "round_robin") return std::make_unique<RoundRobin>();
  if (name == "least_loaded") return std::make_unique<LeastLoaded>();
  if (name == "prefix_affinity") return std::make_unique<PrefixAffinityPolicy>();
  throw std::invalid_argument("unknown router policy '" + name +
                              "' (accepted: round_robin, least_loaded, prefix_affinity)");
}

}  // namespace pio
