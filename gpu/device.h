// Which backend a command runs on: --device cpu | cuda | auto.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "gpu/backend.h"

namespace pio {

enum class DeviceKind { Cpu, Cuda, Auto };

// "cpu", "cuda" or "auto". Throws std::invalid_argument for anything else.
DeviceKind parse_device_kind(std::string_view name);

struct BackendChoice {
  std::unique_ptr<Backend> backend;
  // One line for the log: the CUDA device (name, compute capability, memory), or why --device
  // auto runs on the CPU. Empty for --device cpu.
  std::string log_line;
};

// The backend for `kind`; the CPU one has `threads` threads, pinned when `pin` (make_cpu_backend).
// Cuda: the CUDA backend on device 0; throws BackendError when this build has no CUDA backend,
// there is no usable device, or the model cannot run on it yet (device.cpp says why).
// Auto: Cuda when that works, else the CPU backend with log_line saying why.
BackendChoice make_backend(DeviceKind kind, int threads, bool pin = false);

}  // namespace pio
