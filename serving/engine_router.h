// Where requests compute: the router's plain class. It places each request on one of several
// engine groups (the least loaded by requests in flight, the lowest index among equals) and
// remembers where, so that a cancellation reaches the right group and a group that dies can
// name the requests it held. Plain class, not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace pio {

class EngineRouter {
 public:
  // Throws std::invalid_argument for no group.
  explicit EngineRouter(size_t groups);

  size_t place(uint64_t id);
  std::optional<size_t> group_of(uint64_t id) const;
  void ended(uint64_t id);
  // The requests group `g` held, forgotten (its engine died).
  std::vector<uint64_t> drop_group(size_t g);
  size_t in_flight(size_t g) const { return load_.at(g); }

 private:
  std::vector<size_t> load_;
  std::unordered_map<uint64_t, size_t> placed_;
};

}  // namespace pio
