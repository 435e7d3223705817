// The cache's disk work waiting for its writer thread, first in first out: value writes, recency
// updates, demotions to cold and deletions. Bounded in jobs and in the bytes of the values it
// holds; a job that would pass a bound is refused (the caller drops it from the disk tiers:
// nothing waits for the disk). Plain class, not thread-safe (TieredCache locks around it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "storage/disk_tiers.h"

namespace pio {

struct DiskJob {
  enum class Kind : uint8_t {
    write,   // framed into entry.tier, deleting it from `previous` in the same batch
    touch,   // entry's recency only
    demote,  // warm's value moved to cold (entry.tier is cold)
    erase,   // value and meta deleted from entry.tier
  };
  Kind kind = Kind::write;
  DiskEntry entry;
  std::optional<DiskTier> previous;
  std::string framed;  // write: the framed value as read from disk, or empty when `value` is set
  std::shared_ptr<const std::string> value = nullptr;  // write: the payload, framed by the writer
  // The value bytes the job holds.
  int64_t bytes() const { return static_cast<int64_t>(framed.size() + (value ? value->size() : 0)); }
};

class WriteQueue {
 public:
  // max_bytes: value bytes held at most (DiskJob::bytes); max_jobs: jobs held at most.
  WriteQueue(int64_t max_bytes, size_t max_jobs) : max_bytes_(max_bytes), max_jobs_(max_jobs) {}

  // Appends the job; false, with nothing queued and the job counted as dropped, when it would
  // pass either bound.
  bool push(DiskJob job);
  // The oldest job, removed. Precondition: !empty().
  DiskJob pop();
  bool empty() const { return jobs_.empty(); }
  size_t size() const { return jobs_.size(); }
  int64_t bytes() const { return bytes_; }
  int64_t dropped() const { return dropped_; }
  // Forgets every queued job (not counted as dropped).
  void clear();

 private:
  int64_t max_bytes_;
  size_t max_jobs_;
  int64_t bytes_ = 0;
  int64_t dropped_ = 0;
  std::deque<DiskJob> jobs_;
};

}  // namespace pio
