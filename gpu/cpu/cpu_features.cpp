#include "gpu/cpu/cpu_features.h"

#include <cstdlib>
#include <string_view>

namespace pio::cpu {

bool has_avx512_bf16() {
  static const bool value = [] {
    const char* forced = std::getenv("PIO_CPU_ISA");
    if (forced && std::string_view(forced) == "avx2") return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
  }();
  return value;
}

}  // namespace pio::cpu
