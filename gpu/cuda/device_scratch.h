// A device buffer that grows to the largest size asked of it: the per-call scratch of the CUDA
// backend (token ids, attention sequences, matmul and attention workspaces).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "gpu/cuda/cuda_check.h"

namespace pio::cuda {

class DeviceScratch {
 public:
  DeviceScratch() = default;
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  ~DeviceScratch() { cudaFree(data_); }

  // At least `bytes` of device memory (256-byte aligned), valid until the next get(). Growing
  // frees the old buffer, which waits for the work queued on the device (cudaFree synchronises),
  // so kernels queued earlier never see it vanish. Throws BackendError.
  void* get(size_t bytes) {
    if (bytes <= capacity_) return data_;
    cudaFree(data_);
    data_ = nullptr;
    capacity_ = 0;
    check(cudaMalloc(&data_, bytes), "cudaMalloc (scratch)");
    capacity_ = bytes;
    return data_;
  }

  // `bytes` of host memory copied into the scratch after the work queued on `stream`; the host
  // copy may change when it returns (it waits for the copy: pinned staging is the transfer
  // actor's later job).
  void* upload(const void* host, size_t bytes, cudaStream_t stream) {
    void* d = get(bytes);
    if (bytes == 0) return d;
    check(cudaMemcpyAsync(d, host, bytes, cudaMemcpyHostToDevice, stream), "upload (scratch)");
    check(cudaStreamSynchronize(stream), "upload (scratch)");
    return d;
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace pio::cuda
