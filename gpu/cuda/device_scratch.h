// A device buffer that grows to the largest size asked of it: the per-call scratch of the CUDA
// backend (token ids, attention sequences, matmul and attention workspaces).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "gpu/cuda/cuda_check.h"
#include "gpu/cuda/staging_ring.h"

namespace pio::cuda {

class DeviceScratch {
 public:
  DeviceScratch() = default;
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  // A failed free's error is cleared so that the next launch check does not take it for its own
  // (a sticky error comes back at every later call anyway).
  ~DeviceScratch() {
    if (cudaFree(data_) != cudaSuccess) cudaGetLastError();
  }

  // At least `bytes` of device memory (256-byte aligned), valid until the next get(). Growing
  // frees the old buffer, which waits for the work queued on the device (cudaFree synchronises),
  // so kernels queued earlier never see it vanish. Throws BackendError.
  void* get(size_t bytes) {
    if (bytes <= capacity_) return data_;
    void* old = std::exchange(data_, nullptr);
    capacity_ = 0;
    check(cudaFree(old), "cudaFree (scratch)");
    check(cudaMalloc(&data_, bytes), "cudaMalloc (scratch)");
    capacity_ = bytes;
    return data_;
  }

  // `bytes` of host memory copied into the scratch through `staging`, in its stream's order
  // after the work queued before; the host copy may change when it returns, and the device is
  // not waited for (StagingRing::upload).
  void* upload(const void* host, size_t bytes, StagingRing& staging) {
    void* d = get(bytes);
    staging.upload(d, host, bytes);
    return d;
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace pio::cuda
