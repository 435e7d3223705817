// The supervisor's admission control over a memory budget with a soft and a hard threshold
// (MiB, 0: off). Below soft, requests start at once (up to max_running); above soft, or with
// max_running reached, they wait in a bounded FIFO; above hard, and when the FIFO is full,
// they are refused (the caller answers `overloaded`). Plain class.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_set>
#include <vector>

namespace pio {

enum class MemoryLevel { normal, soft, hard };

struct AdmissionLimits {
  double soft_mb = 0;
  double hard_mb = 0;
  size_t max_queued = 256;   // requests waiting for admission
  size_t max_running = 256;  // requests admitted and not yet ended
};

class Admission {
 public:
  enum class Decision { start, wait, refuse };

  // Throws std::invalid_argument when hard is below soft (both set).
  explicit Admission(AdmissionLimits limits);

  MemoryLevel level(double used_mb) const;
  Decision arrive(uint64_t id, double used_mb);
  // Ids that may start now, in arrival order (they count as running from here on).
  std::vector<uint64_t> release(double used_mb);
  // A request ended, running or still waiting.
  void ended(uint64_t id);

  size_t queued() const { return queue_.size(); }
  size_t running() const { return running_.size(); }

 private:
  AdmissionLimits limits_;
  std::deque<uint64_t> queue_;
  std::unordered_set<uint64_t> running_;
};

}  // namespace pio
