#include "serving/admission.h"

#include <algorithm>
#include <stdexcept>

namespace pio {

Admission::Admission(AdmissionLimits limits) : limits_(limits) {
  if (limits_.soft_mb < 0 || limits_.hard_mb < 0 || (limits_.soft_mb > 0 && limits_.hard_mb > 0 && limits_.hard_mb < limits_.soft_mb))
    throw std::invalid_argument("memory thresholds: need 0 <= soft <= hard");
  if (limits_.max_running == 0) throw std::invalid_argument("admission: max_running must be positive");
}

MemoryLevel Admission::level(double used_mb) const {
  if (limits_.hard_mb > 0 && used_mb >= limits_.hard_mb) return MemoryLevel::hard;
  if (limits_.soft_mb > 0 && used_mb >= limits_.soft_mb) return MemoryLevel::soft;
  return MemoryLevel::normal;
}

Admission::Decision Admission::arrive(uint64_t id, double used_mb) {
  const MemoryLevel l = level(used_mb);
  if (l == MemoryLevel::hard) return Decision::refuse;
  if (l == MemoryLevel::normal && queue_.empty() && running_.size() < limits_.max_running) {
    running_.insert(id);
    return Decision::start;
  }
  if (queue_.size() >= limits_.max_queued) return Decision::refuse;
  queue_.push_back(id);
  return Decision::wait;
}

std::vector<uint64_t> Admission::release(double used_mb) {
  std::vector<uint64_t> start;
  while (level(used_mb) == MemoryLevel::normal && !queue_.empty() && running_.size() < limits_.max_running) {
    start.push_back(queue_.front());
    running_.insert(queue_.front());
    queue_.pop_front();
  }
  return start;
}

void Admission::ended(uint64_t id) {
  running_.erase(id);
  std::erase(queue_, id);
}

}  // namespace pio
