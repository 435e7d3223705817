#include "gpu/cpu/logit_rows.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>

namespace pio::cpu {
namespace {

constexpr size_t kLanes = 16;

}  // namespace

// By lanes the compiler vectorises rather than a serial compare chain (a decode row has 151936
// logits, taken on the engine thread while the compute threads wait).
float row_max(std::span<const float> logits) {
  float lanes[kLanes];
  std::fill(std::begin(lanes), std::end(lanes), -std::numeric_limits<float>::infinity());
  const size_t n = logits.size(), full = n - n % kLanes;
  for (size_t i = 0; i < full; i += kLanes)
    for (size_t l = 0; l < kLanes; ++l) lanes[l] = logits[i + l] > lanes[l] ? logits[i + l] : lanes[l];
  float best = *std::max_element(std::begin(lanes), std::end(lanes));
  for (size_t i = full; i < n; ++i) best = logits[i] > best ? logits[i] : best;
  return best;
}

namespace {

// e^x for x <= 0 (NaN and x below -87 read as e^-87, about 1.6e-38): Cephes' expf (x = n ln 2
// + r, a degree-6 polynomial in r, times 2^n), relative error about 2e-7. exp_sum runs the same
// steps eight values at a time.
constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f, kExpFloor = -87.0f;
constexpr float kP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f,
                         5.0000001201e-1f};

float exp_nonpositive(float x) {
  x = x > kExpFloor ? x : kExpFloor;
  const float n = std::floor(x * kLog2e + 0.5f);
  x = x - n * kLn2Hi - n * kLn2Lo;
  float p = kP[0];
  for (int i = 1; i < 6; ++i) p = p * x + kP[i];
  p = p * x * x + x + 1.0f;
  const auto bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// e^x of eight x already at or above kExpFloor, the steps of exp_nonpositive.
__m256 exp8(__m256 x) {
  const __m256 k = _mm256_floor_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _mm256_set1_ps(0.5f)));
  x = _mm256_sub_ps(_mm256_sub_ps(x, _mm256_mul_ps(k, _mm256_set1_ps(kLn2Hi))), _mm256_mul_ps(k, _mm256_set1_ps(kLn2Lo)));
  __m256 p = _mm256_set1_ps(kP[0]);
  for (int j = 1; j < 6; ++j) p = _mm256_add_ps(_mm256_mul_ps(p, x), _mm256_set1_ps(kP[j]));
  p = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, x), x), x), _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

}  // namespace

// AVX2: eight at a time, the tail by exp_nonpositive.
double exp_sum(std::span<const float> logits, float peak, float inv_t) {
  const size_t n = logits.size(), full = n - n % 8;
  const __m256 vpeak = _mm256_set1_ps(peak), vt = _mm256_set1_ps(inv_t), floor_ = _mm256_set1_ps(kExpFloor);
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  for (size_t i = 0; i < full; i += 8) {
    const __m256 x = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(logits.data() + i), vpeak), vt);
    const __m256 e = exp8(_mm256_max_ps(x, floor_));  // a NaN gives the second operand
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  double lanes[4];
  _mm256_storeu_pd(lanes, _mm256_add_pd(lo, hi));
  double sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (size_t i = full; i < n; ++i) sum += exp_nonpositive((logits[i] - peak) * inv_t);
  return sum;
}

// AVX2: eight at a time; the arguments below the floor (and NaNs, which compare false) masked to 0.
void exp_row(std::span<const float> logits, float peak, float inv_t, std::span<float> out) {
  const size_t n = logits.size(), full = n - n % 8;
  const __m256 vpeak = _mm256_set1_ps(peak), vt = _mm256_set1_ps(inv_t), floor_ = _mm256_set1_ps(kExpFloor);
  for (size_t i = 0; i < full; i += 8) {
    const __m256 x = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(logits.data() + i), vpeak), vt);
    const __m256 in_range = _mm256_cmp_ps(x, floor_, _CMP_GE_OQ);
    _mm256_storeu_ps(out.data() + i, _mm256_and_ps(exp8(_mm256_max_ps(x, floor_)), in_range));
  }
  for (size_t i = full; i < n; ++i) {
    const float x = (logits[i] - peak) * inv_t;
    out[i] = x >= kExpFloor ? exp_nonpositive(x) : 0.0f;
  }
}

}  // namespace pio::cpu
