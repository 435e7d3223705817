// Which instruction-set paths this CPU can run and how big its caches are, decided once at
// start-up. PIO_CPU_ISA=avx2 forces the baseline path (to compare paths on one machine).
#pragma once

#include <cstdint>

namespace pio::cpu {

bool has_avx512_bf16();
// AVX-512 F, for the 16-lane attention kernels.
bool has_avx512f();
// AVX-512 F/BW/VL/VNNI, for the Q8/Q4 kernels.
bool has_avx512_vnni();

// Data cache sizes in bytes as one core sees them: L1d and L2 its own, l3 the L3 divided by the
// logical processors sharing it. Read with CPUID (leaf 4 on Intel, 0x8000001D on AMD), else
// sysconf; a level neither reports gets a small laptop's size (32 KiB, 256 KiB, 1 MiB).
struct CacheSizes {
  int64_t l1d = 0;
  int64_t l2 = 0;
  int64_t l3 = 0;
};
const CacheSizes& cache_sizes();

}  // namespace pio::cpu
