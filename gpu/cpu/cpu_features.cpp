#include "gpu/cpu/cpu_features.h"

#include <cstdlib>
#include <string_view>

namespace pio::cpu {

namespace {
bool forced_avx2() {
  const char* forced = std::getenv("PIO_CPU_ISA");
  return forced && std::string_view(forced) == "avx2";
}
}  // namespace

bool has_avx512_bf16() {
  static const bool value = [] {
    if (forced_avx2()) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
  }();
  return value;
}

bool has_avx512f() {
  static const bool value = [] {
    if (forced_avx2()) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return value;
}

bool has_avx512_vnni() {
  static const bool value = [] {
    if (forced_avx2()) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }();
  return value;
}

}  // namespace pio::cpu
