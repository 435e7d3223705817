// Scheduling policies: which waiting request is admitted next, and which running one is
// preempted first when KV memory runs out. Plain classes; the batcher consults them at every
// step boundary.
//   fcfs      first come, first served.
//   priority  lower `priority` first (vLLM's convention), aged so that nothing starves: every
//             `ageing_s` seconds of waiting counts as one level more urgent.
//   fair      round-robin across client ids: the client served least recently goes next.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace pio {

struct QueuedRequest {
  uint64_t id = 0;
  std::string client;    // who sent it (the fair policy's unit)
  int priority = 0;      // lower is more urgent
  double arrival_s = 0;  // monotonic seconds
};

class SchedulingPolicy {
 public:
  virtual ~SchedulingPolicy() = default;
  virtual std::string_view name() const = 0;
  // Index into `waiting` (non-empty) of the request to admit next.
  virtual size_t next(std::span<const QueuedRequest> waiting, double now_s) const = 0;
  // Called when a request is admitted.
  virtual void admitted(const QueuedRequest&) {}
  // Index into `running` (non-empty) of the request to preempt first.
  virtual size_t victim(std::span<const QueuedRequest> running) const = 0;
};

// Makes a policy; ageing_s is the priority policy's ageing period.
using PolicyFactory = std::function<std::unique_ptr<SchedulingPolicy>(double ageing_s)>;

// Adds a policy under a new name (plug-ins); thread-safe. Throws std::invalid_argument for a
// name already taken.
void register_policy(const std::string& name, PolicyFactory factory);
bool policy_exists(std::string_view name);

// name: "fcfs", "priority", "fair" or a registered one. Throws std::invalid_argument for another
// name or an ageing period that is not positive.
std::unique_ptr<SchedulingPolicy> make_policy(std::string_view name, double ageing_s = 10.0);

}  // namespace pio
