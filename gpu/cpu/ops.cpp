#include "gpu/cpu/ops.h"

#include <immintrin.h>

#include <cmath>

#include "gpu/cpu/vector_ops.h"
#include "gpu/kernel_math.h"

namespace pio::cpu {

void rms_norm_rows(const float* x, int64_t row_begin, int64_t row_end, int64_t dim, const WeightView& weight,
                   float eps, float* y) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    const float inv = 1.0f / std::sqrt(dot(xr, xr, dim) / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) yr[i] = xr[i] * inv * weight_at(weight, i);
  }
}

void layer_norm_rows(const float* x, int64_t row_begin, int64_t row_end, int64_t dim, const WeightView& weight,
                     const WeightView& bias, float eps, float* y) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    float mean = 0.0f;
    for (int64_t i = 0; i < dim; ++i) mean += xr[i];
    mean /= static_cast<float>(dim);
    float var = 0.0f;
    for (int64_t i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    const float inv = 1.0f / std::sqrt(var / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) yr[i] = (xr[i] - mean) * inv * weight_at(weight, i) + weight_at(bias, i);
  }
}

void rotary_rows(float* x, int64_t row_begin, int64_t row_end, int64_t row_stride, int heads, int head_dim,
                 const float* cos, const float* sin) {
  const int half = head_dim / 2;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* c = cos + r * half;
    const float* s = sin + r * half;
    for (int h = 0; h < heads; ++h) {
      float* v = x + r * row_stride + static_cast<int64_t>(h) * head_dim;
      for (int i = 0; i < half; ++i) math::rotate_pair(v[i], v[i + half], c[i], s[i]);
    }
  }
}

void silu_mul_range(float* gate, const float* up, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) gate[i] = math::silu(gate[i]) * up[i];
}

void gelu_tanh_range(float* x, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) x[i] = math::gelu_tanh(x[i]);
}

void gelu_erf_range(float* x, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) x[i] = math::gelu_erf(x[i]);
}

void add_range(float* x, const float* y, int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < end; ++i) x[i] += y[i];
}

void embed_rows(const WeightView& table, std::span<const int32_t> ids, int64_t begin, int64_t end, float* out) {
  for (int64_t r = begin; r < end; ++r) {
    const int64_t base = static_cast<int64_t>(ids[static_cast<size_t>(r)]) * table.cols;
    float* o = out + r * table.cols;
    for (int64_t i = 0; i < table.cols; ++i) o[i] = weight_at(table, base + i);
  }
}

}  // namespace pio::cpu
