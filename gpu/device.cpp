#include "gpu/device.h"

#include <stdexcept>

#include "gpu/backend_error.h"
#if PIO_HAVE_CUDA
#include "gpu/cuda/cuda_backend.h"
#endif

namespace pio {
namespace {

// The CUDA backend on device 0 and its start-up line. Throws BackendError.
BackendChoice make_cuda_choice(bool deterministic) {
#if PIO_HAVE_CUDA
  const CudaDeviceInfo info = probe_cuda_device();
  return {make_cuda_backend(info.ordinal, kCudaMinFreeBytes, deterministic),
          "device: " + info.describe() + (deterministic ? " (deterministic: fixed-order prefill GEMMs)" : "")};
#else
  (void)deterministic;
  throw BackendError("this build has no CUDA backend (configured with PIO_CUDA=OFF or without nvcc)");
#endif
}

}  // namespace

DeviceKind parse_device_kind(std::string_view name) {
  if (name == "cpu") return DeviceKind::Cpu;
  if (name == "cuda") return DeviceKind::Cuda;
  if (name == "auto") return DeviceKind::Auto;
  throw std::invalid_argument("--device must be cpu, cuda or auto, got '" + std::string(name) + "'");
}

BackendChoice make_backend(DeviceKind kind, int threads, bool pin, bool deterministic) {
  if (kind == DeviceKind::Cpu) return {make_cpu_backend(threads, pin), ""};
  if (kind == DeviceKind::Cuda) return make_cuda_choice(deterministic);
  try {
    return make_cuda_choice(deterministic);
  } catch (const BackendError& e) {
    return {make_cpu_backend(threads, pin), std::string("device: cpu (--device auto: ") + e.what() + ")"};
  }
}

}  // namespace pio
