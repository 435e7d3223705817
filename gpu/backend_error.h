// The errors a backend throws when its device cannot do what was asked.
#pragma once

#include <stdexcept>

namespace pio {

// No device, a driver or launch error, an operation it does not implement, an argument it does
// not support: the call failed, and the backend may still serve other calls.
struct BackendError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The device itself failed (a CUDA error that leaves the context unusable, such as an illegal
// address or an uncorrectable ECC error): every later call fails too, so its work must move to
// another backend (pio-node: the engine group starts again on the CPU, serving/engine_core.h).
struct DeviceLost : BackendError {
  using BackendError::BackendError;
};

}  // namespace pio
