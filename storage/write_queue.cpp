#include "storage/write_queue.h"

namespace pio {

bool WriteQueue::push(DiskJob job) {
  const int64_t bytes = job.bytes();
  if (jobs_.size() >= max_jobs_ || bytes_ + bytes > max_bytes_) {
    ++dropped_;
    return false;
  }
  bytes_ += bytes;
  jobs_.push_back(std::move(job));
  return true;
}

DiskJob WriteQueue::pop() {
  DiskJob job = std::move(jobs_.front());
  jobs_.pop_front();
  bytes_ -= job.bytes();
  return job;
}

void WriteQueue::clear() {
  jobs_.clear();
  bytes_ = 0;
}

}  // namespace pio
