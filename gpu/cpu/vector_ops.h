// Small AVX2 building blocks over float arrays, shared by the CPU kernels.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "gpu/cpu/weight_access.h"

namespace pio::cpu {

inline float dot(const float* a, const float* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float s = hsum(acc);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace pio::cpu
