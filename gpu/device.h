// Which backend a command runs on: --device cpu | cuda | auto.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "gpu/backend.h"

namespace pio {

enum class DeviceKind { Cpu, Cuda, Auto };

// The least free device memory a CUDA backend starts with, and the margin --gpu-vision auto
// leaves on the device.
inline constexpr size_t kCudaMinFreeBytes = size_t{512} << 20;

// "cpu", "cuda" or "auto". Throws std::invalid_argument for anything else.
DeviceKind parse_device_kind(std::string_view name);

struct BackendChoice {
  std::unique_ptr<Backend> backend;
  // One line for the log: the CUDA device (name, compute capability, memory), or why --device
  // auto runs on the CPU. Empty for --device cpu.
  std::string log_line;
};

// The backend for `kind`; the CPU one has `threads` threads, pinned when `pin` (make_cpu_backend).
// Cuda: the CUDA backend on device 0, whose prefill GEMMs take the fixed-order kernel instead of
// cuBLAS when `deterministic` (the CPU backend always computes in a fixed order); throws
// BackendError when this build has no CUDA backend or there is no usable device.
// Auto: Cuda when that works, else the CPU backend with log_line saying why.
BackendChoice make_backend(DeviceKind kind, int threads, bool pin = false, bool deterministic = false);

}  // namespace pio
