#include "gpu/cpu/ops.h"

#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "gpu/cpu/vector_exp.h"
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

namespace {

// Calls f(Weights{}) with the weight_access.h reader of dtype d (nothing for other dtypes).
template <class F>
void with_reader(DType d, F&& f) {
  switch (d) {
    case DType::F32: f(F32Weights{}); break;
    case DType::BF16: f(BF16Weights{}); break;
    case DType::F16: f(F16Weights{}); break;
    default: break;
  }
}

// layer_norm_rows for weight and bias readers W and B: 8 lanes, the dim % 8 tail scalar.
template <class W, class B>
void layer_norm_rows_of(const float* x, int64_t row_begin, int64_t row_end, int64_t dim, const WeightView& weight,
                        const WeightView& bias, float eps, float* y) {
  const auto* w = static_cast<const typename W::T*>(weight.data);
  const auto* b = static_cast<const typename B::T*>(bias.data);
  const int64_t body = dim / 8 * 8;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < body; i += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(xr + i));
    float sum = hsum(acc);
    for (int64_t i = body; i < dim; ++i) sum += xr[i];
    const float mean = sum / static_cast<float>(dim);
    const __m256 vmean = _mm256_set1_ps(mean);
    acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < body; i += 8) {
      const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(xr + i), vmean);
      acc = _mm256_fmadd_ps(d, d, acc);
    }
    float var = hsum(acc);
    for (int64_t i = body; i < dim; ++i) var = std::fma(xr[i] - mean, xr[i] - mean, var);
    const float inv = 1.0f / std::sqrt(var / static_cast<float>(dim) + eps);
    const __m256 vinv = _mm256_set1_ps(inv);
    for (int64_t i = 0; i < body; i += 8) {
      const __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i), vmean), vinv);
      _mm256_storeu_ps(yr + i, _mm256_fmadd_ps(n, W::load8(w + i), B::load8(b + i)));
    }
    for (int64_t i = body; i < dim; ++i) yr[i] = std::fma((xr[i] - mean) * inv, W::load1(w + i), B::load1(b + i));
  }
}

}  // namespace

void layer_norm_rows(const float* x, int64_t row_begin, int64_t row_end, int64_t dim, const WeightView& weight,
                     const WeightView& bias, float eps, float* y) {
  with_reader(weight.dtype, [&]<class W>(W) {
    with_reader(bias.dtype,
                [&]<class B>(B) { layer_norm_rows_of<W, B>(x, row_begin, row_end, dim, weight, bias, eps, y); });
  });
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

namespace {

// An element's bits never depend on where it falls: the body runs f over 8 lanes of x (and of y,
// when given) at a time, a ragged tail through the same f on a zero-padded copy.
template <class F>
void map8(float* x, const float* y, int64_t begin, int64_t end, F f) {
  const auto lanes_of = [](const float* p) { return p ? _mm256_loadu_ps(p) : _mm256_setzero_ps(); };
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) _mm256_storeu_ps(x + i, f(_mm256_loadu_ps(x + i), lanes_of(y ? y + i : nullptr)));
  if (i == end) return;
  alignas(32) float tail[8] = {}, tail_y[8] = {};
  const auto bytes = sizeof(float) * static_cast<size_t>(end - i);
  std::memcpy(tail, x + i, bytes);
  if (y) std::memcpy(tail_y, y + i, bytes);
  _mm256_store_ps(tail, f(_mm256_load_ps(tail), _mm256_load_ps(tail_y)));
  std::memcpy(x + i, tail, bytes);
}

// silu(g)·u = g / (1 + e^-g) · u on 8 lanes (transformers' SiLU times the up projection). Not
// inlined, so that the body and the tail run the very same instructions.
[[gnu::noinline]] __m256 silu_mul8(__m256 g, __m256 u) {
  const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

// gelu_pytorch_tanh on 8 lanes: 0.5x(1 + tanh u) = x / (1 + e^(-2u)), u = √(2/π)(x + 0.044715x³).
[[gnu::noinline]] __m256 gelu_tanh8(__m256 x, __m256) {
  const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
  const __m256 u = _mm256_add_ps(x, _mm256_mul_ps(_mm256_set1_ps(0.044715f), x3));
  const __m256 e = exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f * 0.7978845608028654f), u));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

}  // namespace

void silu_mul_range(float* gate, const float* up, int64_t begin, int64_t end) { map8(gate, up, begin, end, silu_mul8); }

void gelu_tanh_range(float* x, int64_t begin, int64_t end) { map8(x, nullptr, begin, end, gelu_tanh8); }

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
