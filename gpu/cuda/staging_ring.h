// Host<->device copies through a ring of pinned (page-locked) host buffers, as the CUDA backend
// makes them. An upload returns once its bytes are in pinned slots, without waiting for the
// device (which copies them in stream order), and the caller may reuse its memory at once: the
// host goes on queueing a step's kernels instead of waiting at every upload. A download queues
// one slot's copy ahead of the slot it drains, so the device's copy of a chunk overlaps the
// host's copy of the one before. Copies from pinned memory also run at the bus's full rate, where
// pageable memory goes through the driver's own staging.
// A slot is reused only once the copy that last used it has completed (its fence). The ring
// itself is plain C++ over a StagingPort, which makes the CUDA calls, so the CPU tests run it over
// a port whose copies complete only when waited for.
#pragma once

#include <cstddef>
#include <vector>

namespace pio::cuda {

// What the ring asks of the device. Copies are queued in the device's stream order, each
// followed by a fence for its slot.
class StagingPort {
 public:
  virtual ~StagingPort() = default;
  // Page-locked host memory; throws BackendError when it cannot be had.
  virtual void* allocate_pinned(size_t bytes) = 0;
  virtual void free_pinned(void* p) noexcept = 0;
  // Queues a copy of `bytes` from pinned to device memory dst, then slot's fence.
  virtual void queue_upload(void* dst, const void* pinned, size_t bytes, int slot) = 0;
  // Queues a copy of `bytes` from device memory src into pinned, then slot's fence.
  virtual void queue_download(void* pinned, const void* src, size_t bytes, int slot) = 0;
  // Waits until slot's last fence has passed (at once when it has none). Returns the seconds its
  // copy took on the device the first time that copy is waited for, 0 afterwards. Throws
  // BackendError (DeviceLost) for a failed copy.
  virtual double wait(int slot) = 0;
};

class StagingRing {
 public:
  // `slots` buffers of slot_bytes each (both > 0), allocated from port at the first copy.
  StagingRing(StagingPort& port, int slots, size_t slot_bytes);
  ~StagingRing();  // waits for the copies under way, then frees the buffers
  StagingRing(const StagingRing&) = delete;
  StagingRing& operator=(const StagingRing&) = delete;

  // Copies src (host) into slots chunk by chunk, queueing each chunk's copy to dst (device);
  // returns without waiting for the device, src reusable.
  void upload(void* dst, const void* src, size_t bytes);
  // Copies src (device) to dst (host) through the slots; returns when dst holds every byte, with
  // the time of every copy before it counted.
  void download(void* dst, const void* src, size_t bytes);
  // Waits for every copy under way (a failed one throws as StagingPort::wait).
  void settle();
  // Seconds the device spent on the copies that have been waited for.
  double transfer_seconds() const { return transfer_s_; }

 private:
  struct Chunk {
    int slot;
    size_t offset, bytes;
  };
  // The next slot in turn, once the copy that last used it completed.
  int take_slot();
  char* slot_memory(int slot) const { return static_cast<char*>(buffer_) + static_cast<size_t>(slot) * slot_bytes_; }

  StagingPort& port_;
  int slots_;
  size_t slot_bytes_;
  void* buffer_ = nullptr;  // slots_ * slot_bytes_ pinned bytes
  int next_ = 0;
  double transfer_s_ = 0;
};

}  // namespace pio::cuda
