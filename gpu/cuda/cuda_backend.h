// The CUDA backend: the Backend interface on one NVIDIA device. Every float pointer and weight
// it is given is device memory (from allocate(), filled by upload()); host memory goes through
// upload/download. Work runs in order on the backend's own stream. Throws pio::BackendError
// (gpu/backend_error.h) on any CUDA or cuBLAS error and for weights it does not read (the CPU's
// packed bf16 layout; biases other than F32); the attention launchers' shape errors are
// std::invalid_argument (gpu/cuda/attention.h).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "gpu/backend.h"
#include "gpu/device.h"

namespace pio {

// What a start-up line says about the device.
struct CudaDeviceInfo {
  int ordinal = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t free_bytes = 0, total_bytes = 0;
  // "CUDA device 0: NVIDIA H100 80GB HBM3, compute capability 9.0, 79.2 GiB free of 79.6 GiB"
  std::string describe() const;
};

// Device `ordinal`'s properties. Throws BackendError when there is no such device, the driver
// fails, this build has no kernels for its compute capability, or less than min_free_bytes is free.
CudaDeviceInfo probe_cuda_device(int ordinal = 0, size_t min_free_bytes = kCudaMinFreeBytes);

// A backend on device `ordinal` (probed as above first). Its matmul runs the fixed-order GEMV up
// to 16 rows and cuBLAS beyond, whose bits may depend on the row count; `deterministic` takes
// the fixed-order GEMM there too, so that every row's bits are the GEMV's. Throws BackendError.
std::unique_ptr<Backend> make_cuda_backend(int ordinal = 0, size_t min_free_bytes = kCudaMinFreeBytes,
                                           bool deterministic = false);

}  // namespace pio
