// Scalar and 8-wide AVX2 reads of weights in any float dtype, converted to float32.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "gpu/backend.h"
#include "gpu/kernel_math.h"

namespace pio::cpu {

inline float weight_at(const WeightView& w, int64_t i) {
  switch (w.dtype) {
    case DType::F32: return static_cast<const float*>(w.data)[i];
    case DType::BF16: return math::bf16_to_f32(static_cast<const uint16_t*>(w.data)[i]);
    case DType::F16: return math::f16_to_f32(static_cast<const uint16_t*>(w.data)[i]);
    default: return 0.0f;
  }
}

struct F32Weights {
  using T = float;
  static __m256 load8(const T* p) { return _mm256_loadu_ps(p); }
  static float load1(const T* p) { return *p; }
};
struct BF16Weights {
  using T = uint16_t;
  static __m256 load8(const T* p) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
  }
  static float load1(const T* p) { return math::bf16_to_f32(*p); }
};
struct F16Weights {
  using T = uint16_t;
  static __m256 load8(const T* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static float load1(const T* p) { return math::f16_to_f32(*p); }
};

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace pio::cpu
