#include "serving/scheduling_policy.h"

#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>

namespace pio {
namespace {

// The index of the smallest element under `key` (a tuple, compared lexicographically).
template <class Key>
size_t min_by(std::span<const QueuedRequest> rs, Key key) {
  size_t best = 0;
  for (size_t i = 1; i < rs.size(); ++i)
    if (key(rs[i]) < key(rs[best])) best = i;
  return best;
}

// Earlier arrival, then lower id: the tie-break every policy ends with.
std::tuple<double, uint64_t> arrival(const QueuedRequest& r) { return {r.arrival_s, r.id}; }

class Fcfs final : public SchedulingPolicy {
 public:
  std::string_view name() const override { return "fcfs"; }
  size_t next(std::span<const QueuedRequest> waiting, double) const override { return min_by(waiting, arrival); }
  size_t victim(std::span<const QueuedRequest> running) const override {
    return min_by(running, [](const QueuedRequest& r) { return std::make_tuple(-r.arrival_s, ~r.id); });
  }
};

class Priority final : public SchedulingPolicy {
 public:
  explicit Priority(double ageing_s) : ageing_s_(ageing_s) {}
  std::string_view name() const override { return "priority"; }
  size_t next(std::span<const QueuedRequest> waiting, double now_s) const override {
    return min_by(waiting, [&](const QueuedRequest& r) {
      return std::make_tuple(r.priority - (now_s - r.arrival_s) / ageing_s_, r.arrival_s, r.id);
    });
  }
  // The least urgent by its own priority, the latest among equals.
  size_t victim(std::span<const QueuedRequest> running) const override {
    return min_by(running, [](const QueuedRequest& r) { return std::make_tuple(-r.priority, -r.arrival_s, ~r.id); });
  }

 private:
  double ageing_s_;
};

class Fair final : public SchedulingPolicy {
 public:
  std::string_view name() const override { return "fair"; }
  size_t next(std::span<const QueuedRequest> waiting, double) const override {
    return min_by(waiting, [&](const QueuedRequest& r) { return std::make_tuple(last_served(r.client), r.arrival_s, r.id); });
  }
  void admitted(const QueuedRequest& r) override { served_[r.client] = ++turn_; }
  // The client served most recently gives up its latest request.
  size_t victim(std::span<const QueuedRequest> running) const override {
    return min_by(running, [&](const QueuedRequest& r) {
      return std::make_tuple(-static_cast<double>(last_served(r.client)), -r.arrival_s, ~r.id);
    });
  }

 private:
  uint64_t last_served(const std::string& client) const {
    const auto it = served_.find(client);
    return it == served_.end() ? 0 : it->second;
  }
  std::unordered_map<std::string, uint64_t> served_;  // client -> turn of its last admission
  uint64_t turn_ = 0;
};

// Every policy by name: the built-in ones, then those plug-ins add.
struct Policies {
  std::mutex m;
  std::map<std::string, PolicyFactory, std::less<>> factories{
      {"fcfs", [](double) { return std::make_unique<Fcfs>(); }},
      {"priority", [](double ageing_s) { return std::make_unique<Priority>(ageing_s); }},
      {"fair", [](double) { return std::make_unique<Fair>(); }}};
};

Policies& policies() {
  static Policies p;
  return p;
}

}  // namespace

void register_policy(const std::string& name, PolicyFactory factory) {
  auto& p = policies();
  std::lock_guard lock(p.m);
  if (!factory || !p.factories.emplace(name, std::move(factory)).second)
    throw std::invalid_argument("scheduling policy '" + name + "' is already registered");
}

bool policy_exists(std::string_view name) {
  auto& p = policies();
  std::lock_guard lock(p.m);
  return p.factories.find(name) != p.factories.end();
}

std::unique_ptr<SchedulingPolicy> make_policy(std::string_view name, double ageing_s) {
  if (!(ageing_s > 0) || !std::isfinite(ageing_s)) throw std::invalid_argument("ageing period must be positive");
  auto& p = policies();
  std::lock_guard lock(p.m);
  const auto it = p.factories.find(name);
  if (it == p.factories.end()) {
    std::string known;
    for (const auto& [n, f] : p.factories) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown scheduling policy '" + std::string(name) + "' (" + known + ")");
  }
  return it->second(ageing_s);
}

}  // namespace pio
