#include "gpu/cpu/cpu_features.h"

#include <cpuid.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace pio::cpu {

namespace {
bool forced_avx2() {
  const char* forced = std::getenv("PIO_CPU_ISA");
  return forced && std::string_view(forced) == "avx2";
}

// One CPUID cache-parameters leaf (4 or 0x8000001D), a cache per subleaf until type 0: fills the
// data and unified levels it lists. Leaves out what the leaf does not report.
void read_cache_leaf(unsigned leaf, CacheSizes& out) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(leaf, 0, &a, &b, &c, &d)) return;
  for (unsigned sub = 0; sub < 16; ++sub) {
    __cpuid_count(leaf, sub, a, b, c, d);
    const unsigned type = a & 0x1f, level = (a >> 5) & 0x7;
    if (type == 0) break;
    if (type == 2) continue;  // instruction cache
    const int64_t ways = ((b >> 22) & 0x3ff) + 1, partitions = ((b >> 12) & 0x3ff) + 1, line = (b & 0xfff) + 1;
    const int64_t size = ways * partitions * line * (static_cast<int64_t>(c) + 1);
    const int64_t sharing = ((a >> 14) & 0xfff) + 1;  // logical processors that share it (at most)
    if (level == 1) out.l1d = size;
    else if (level == 2) out.l2 = size;
    else if (level == 3) out.l3 = size / sharing;
  }
}

int64_t sysconf_size(int name) {
  const long v = sysconf(name);
  return v > 0 ? v : 0;
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

const CacheSizes& cache_sizes() {
  static const CacheSizes value = [] {
    CacheSizes c;
    unsigned max_ext = __get_cpuid_max(0x80000000u, nullptr);
    if (max_ext >= 0x8000001Du) read_cache_leaf(0x8000001Du, c);  // AMD
    if (c.l1d == 0 && c.l2 == 0 && __get_cpuid_max(0, nullptr) >= 4) read_cache_leaf(4, c);  // Intel
    if (c.l1d == 0) c.l1d = sysconf_size(_SC_LEVEL1_DCACHE_SIZE);
    if (c.l2 == 0) c.l2 = sysconf_size(_SC_LEVEL2_CACHE_SIZE);
    if (c.l1d == 0) c.l1d = 32 << 10;
    if (c.l2 == 0) c.l2 = 256 << 10;
    if (c.l3 == 0) c.l3 = 1 << 20;
    return c;
  }();
  return value;
}

}  // namespace pio::cpu
