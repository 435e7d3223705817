// Reading a KV cache row (gpu/kv_dtype.h) as float32, 8 lanes or one value at a time: the one
// conversion load_kv_row and the attention's key transpose share. In an anonymous namespace, as
// vector_exp.h: each file gets its own copy, built for its own instruction set.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gpu/cpu/weight_access.h"
#include "gpu/kv_dtype.h"

namespace pio::cpu {
namespace {

// Elements [d, d + 8) of a row of dtype D and head_dim hd: exact for f32, bf16, f16; q · s for q8
// (its scale s after the hd int8 values).
template <KvDType D>
inline __m256 kv_load8(const char* row, int d, int hd) {
  if constexpr (D == KvDType::F32) return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + d);
  if constexpr (D == KvDType::BF16) return BF16Weights::load8(reinterpret_cast<const uint16_t*>(row) + d);
  if constexpr (D == KvDType::F16) return F16Weights::load8(reinterpret_cast<const uint16_t*>(row) + d);
  if constexpr (D == KvDType::Q8) {
    float scale;
    std::memcpy(&scale, row + hd, sizeof scale);
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + d));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)), _mm256_set1_ps(scale));
  }
}

// Element d alone, the same value kv_load8 gives for its lane.
template <KvDType D>
inline float kv_load1(const char* row, int d, int hd) {
  if constexpr (D == KvDType::F32) return reinterpret_cast<const float*>(row)[d];
  if constexpr (D == KvDType::BF16) return BF16Weights::load1(reinterpret_cast<const uint16_t*>(row) + d);
  if constexpr (D == KvDType::F16) return F16Weights::load1(reinterpret_cast<const uint16_t*>(row) + d);
  if constexpr (D == KvDType::Q8) {
    float scale;
    std::memcpy(&scale, row + hd, sizeof scale);
    return static_cast<float>(reinterpret_cast<const int8_t*>(row)[d]) * scale;
  }
}

}  // namespace
}  // namespace pio::cpu
