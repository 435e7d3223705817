#include "gpu/device.h"

#include <stdexcept>

#include "gpu/backend_error.h"
#if PIO_HAVE_CUDA
#include "gpu/cuda/cuda_backend.h"
#endif

namespace pio {
namespace {

#if PIO_HAVE_CUDA
// Why a CUDA backend cannot run the model yet, or nullptr once it can. Every backend operation
// has a device implementation, but the model still hands the backend host pointers for its
// weights and activations (only the KV storage lives in Backend::allocate memory), so on a device
// it would fail at its first kernel: --device auto keeps the CPU and --device cuda refuses.
constexpr const char* kCudaModelBlocker =
    "the model does not keep its weights and activations in device memory yet";
#endif

// The CUDA backend on device 0 and its start-up line. Throws BackendError.
BackendChoice make_cuda_choice() {
#if PIO_HAVE_CUDA
  const CudaDeviceInfo info = probe_cuda_device();
  if (kCudaModelBlocker != nullptr)
    throw BackendError(info.describe() + ", but the CUDA backend cannot run the model: " + kCudaModelBlocker);
  return {make_cuda_backend(info.ordinal), "device: " + info.describe()};
#else
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

BackendChoice make_backend(DeviceKind kind, int threads, bool pin) {
  if (kind == DeviceKind::Cpu) return {make_cpu_backend(threads, pin), ""};
  if (kind == DeviceKind::Cuda) return make_cuda_choice();
  try {
    return make_cuda_choice();
  } catch (const BackendError& e) {
    return {make_cpu_backend(threads, pin), std::string("device: cpu (--device auto: ") + e.what() + ")"};
  }
}

}  // namespace pio
