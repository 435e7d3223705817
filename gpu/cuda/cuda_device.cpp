// Probing a CUDA device before a backend is made on it.
#include <cuda_runtime_api.h>

#include <cstdio>

#include "gpu/backend_error.h"
#include "gpu/cuda/cuda_backend.h"
#include "gpu/cuda/cuda_check.h"
#include "gpu/cuda/kernels.h"

namespace pio {

std::string CudaDeviceInfo::describe() const {
  char line[320];
  std::snprintf(line, sizeof line, "CUDA device %d: %s, compute capability %d.%d, %.1f GiB free of %.1f GiB", ordinal,
                name.c_str(), major, minor, static_cast<double>(free_bytes) / (1 << 30),
                static_cast<double>(total_bytes) / (1 << 30));
  return line;
}

CudaDeviceInfo probe_cuda_device(int ordinal, size_t min_free_bytes) {
  int count = 0;
  if (const cudaError_t err = cudaGetDeviceCount(&count); err != cudaSuccess) {
    // Without a GPU the runtime finds no driver and says it is too old (cudaErrorInsufficientDriver).
    std::string why = cudaGetErrorString(err);
    if (err == cudaErrorInsufficientDriver)
      why = "no NVIDIA driver, or one older than this build's CUDA " + std::to_string(CUDART_VERSION / 1000) + "." +
            std::to_string(CUDART_VERSION % 1000 / 10) + " runtime: " + why;
    throw BackendError("no usable CUDA device (" + why + ")");
  }
  if (ordinal < 0 || ordinal >= count)
    throw BackendError("no CUDA device " + std::to_string(ordinal) + " (" + std::to_string(count) + " found)");
  cuda::check(cudaSetDevice(ordinal), "cudaSetDevice");
  cudaDeviceProp prop{};
  cuda::check(cudaGetDeviceProperties(&prop, ordinal), "cudaGetDeviceProperties");
  CudaDeviceInfo info;
  info.ordinal = ordinal;
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  cuda::check(cudaMemGetInfo(&info.free_bytes, &info.total_bytes), "cudaMemGetInfo");
  if (const cudaError_t err = cuda::check_kernel_image(); err != cudaSuccess)
    throw BackendError(info.describe() + ": this build has no kernels for it (" + cudaGetErrorString(err) +
                       "); rebuild with -DPIO_CUDA_ARCHITECTURES=" + std::to_string(info.major * 10 + info.minor));
  if (info.free_bytes < min_free_bytes)
    throw BackendError(info.describe() + ": too little free memory (needs " + std::to_string(min_free_bytes >> 20) +
                       " MiB)");
  return info;
}

}  // namespace pio
