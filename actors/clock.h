// Monotonic seconds, the one clock every actor's timings use.
#pragma once

#include <chrono>

namespace pio {

inline double monotonic_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace pio
