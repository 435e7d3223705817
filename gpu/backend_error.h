// The error a backend throws when its device cannot do what was asked: no device, a driver or
// launch error, an operation it does not implement, an argument it does not support.
#pragma once

#include <stdexcept>

namespace pio {

struct BackendError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace pio
