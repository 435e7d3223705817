// Which instruction-set paths this CPU can run, decided once at start-up.
// PIO_CPU_ISA=avx2 forces the baseline path (to compare paths on one machine).
#pragma once

namespace pio::cpu {

bool has_avx512_bf16();
// AVX-512 F, for the 16-lane attention kernels.
bool has_avx512f();
// AVX-512 F/BW/VL/VNNI, for the Q8/Q4 kernels.
bool has_avx512_vnni();

}  // namespace pio::cpu
