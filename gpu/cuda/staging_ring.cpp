#include "gpu/cuda/staging_ring.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <stdexcept>

namespace pio::cuda {

StagingRing::StagingRing(StagingPort& port, int slots, size_t slot_bytes)
    : port_(port), slots_(slots), slot_bytes_(slot_bytes) {
  if (slots <= 0 || slot_bytes == 0) throw std::invalid_argument("StagingRing: slots and slot_bytes must be positive");
}

StagingRing::~StagingRing() {
  if (buffer_ == nullptr) return;
  try {
    settle();
  } catch (...) {  // a failed device: the copies are over either way
  }
  port_.free_pinned(buffer_);
}

int StagingRing::take_slot() {
  if (buffer_ == nullptr) buffer_ = port_.allocate_pinned(static_cast<size_t>(slots_) * slot_bytes_);
  const int slot = next_;
  next_ = (next_ + 1) % slots_;
  transfer_s_ += port_.wait(slot);
  return slot;
}

void StagingRing::upload(void* dst, const void* src, size_t bytes) {
  for (size_t offset = 0; offset < bytes; offset += slot_bytes_) {
    const size_t n = std::min(slot_bytes_, bytes - offset);
    const int slot = take_slot();
    std::memcpy(slot_memory(slot), static_cast<const char*>(src) + offset, n);
    port_.queue_upload(static_cast<char*>(dst) + offset, slot_memory(slot), n, slot);
  }
}

void StagingRing::download(void* dst, const void* src, size_t bytes) {
  std::deque<Chunk> queued;
  const auto drain_front = [&] {
    const Chunk c = queued.front();
    queued.pop_front();
    transfer_s_ += port_.wait(c.slot);
    std::memcpy(static_cast<char*>(dst) + c.offset, slot_memory(c.slot), c.bytes);
  };
  for (size_t offset = 0; offset < bytes; offset += slot_bytes_) {
    // Every slot holds a queued chunk: the oldest is drained before its slot comes round again.
    if (static_cast<int>(queued.size()) == slots_) drain_front();
    const size_t n = std::min(slot_bytes_, bytes - offset);
    const int slot = take_slot();
    port_.queue_download(slot_memory(slot), static_cast<const char*>(src) + offset, n, slot);
    queued.push_back({slot, offset, n});
  }
  while (!queued.empty()) drain_front();
  settle();  // the stream is past every earlier copy now: their times count at once, not later
}

void StagingRing::settle() {
  if (buffer_ == nullptr) return;
  for (int slot = 0; slot < slots_; ++slot) transfer_s_ += port_.wait(slot);
}

}  // namespace pio::cuda
