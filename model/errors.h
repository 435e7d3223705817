// The error every model-layer failure raises: a message a user can act on.
#pragma once

#include <stdexcept>
#include <string>

namespace pio {

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace pio
