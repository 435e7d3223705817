// The CUDA side of the staging ring (staging_ring.h): pinned memory from cudaHostAlloc, copies
// with cudaMemcpyAsync on the backend's stream, and per slot two events around its last copy
// (the fence, and the copy's time on the device).
#pragma once

#include <cuda_runtime_api.h>

#include <vector>

#include "gpu/cuda/staging_ring.h"

namespace pio::cuda {

class CudaStagingPort final : public StagingPort {
 public:
  // Copies on `stream` (the caller's: its current device must be the stream's); events for
  // `slots` slots. Throws BackendError.
  CudaStagingPort(cudaStream_t stream, int slots);
  ~CudaStagingPort() override;
  CudaStagingPort(const CudaStagingPort&) = delete;
  CudaStagingPort& operator=(const CudaStagingPort&) = delete;

  void* allocate_pinned(size_t bytes) override;
  void free_pinned(void* p) noexcept override;
  void queue_upload(void* dst, const void* pinned, size_t bytes, int slot) override;
  void queue_download(void* pinned, const void* src, size_t bytes, int slot) override;
  double wait(int slot) override;

 private:
  struct Slot {
    cudaEvent_t start = nullptr, end = nullptr;
    bool pending = false;  // a copy was queued and not yet waited for
  };
  void queue(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, int slot);
  void destroy_events() noexcept;

  cudaStream_t stream_;
  std::vector<Slot> slots_;
};

}  // namespace pio::cuda
