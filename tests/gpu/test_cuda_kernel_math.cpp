// The CUDA kernels' per-thread arithmetic (gpu/cuda/*_math.h) run on the CPU over every block and
// thread of the launch the .cu file makes, phase by phase (a phase runs for every thread before
// the next starts, as a barrier orders it), against naive double-precision references on random
// shapes including odd sizes. Built and run whether or not this build has CUDA.
//
// Tolerances. Row kernels (RMSNorm, LayerNorm): a float32 sum of dim terms over 256 strided
// partials and an 8-step tree is off by at most about (dim/256 + 8) units of 2^-24 of the sum of
// the terms' magnitudes, 1.5e-6 relative for dim <= 4096; the scale, one multiply and one weight
// add under 1e-6 more: 2e-5 * (1 + |ref|) leaves a 10x margin, while a missed or doubled element
// moves the result by at least 1/dim relative (>= 2.4e-4). Activations: float32 exp/tanh/erf are
// within a few ulp, and 1 + tanh(.) cancels for negative x, so the error is a few ulp of |x|:
// 1e-6 * (1 + |x|). Rotary: two products and a sum, at most 2 ulp of the larger product:
// 1e-6 * (|a| + |b|). add and embed are exact (one correctly rounded add; bf16/f16 to f32 is exact).
#define BOOST_TEST_MODULE cuda_kernel_math
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "gpu/cuda/norm_math.h"
#include "gpu/cuda/pointwise_math.h"

using namespace pio;
using namespace pio::cuda;

namespace {

std::mt19937 rng(2024);

std::vector<float> random_floats(size_t n, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A weight vector in `dtype`: its bytes, and the float value of each element (exact).
struct Weight {
  DType dtype;
  std::vector<uint8_t> bytes;
  std::vector<float> values;
};

Weight make_weight(DType dtype, size_t n, float scale, float offset) {
  Weight w{dtype, std::vector<uint8_t>(n * dtype_size(dtype)), {}};
  for (float x : random_floats(n, scale)) {
    x += offset;
    if (dtype == DType::BF16) x = math::bf16_to_f32(math::f32_to_bf16(x));
    if (dtype == DType::F16) x = math::f16_to_f32(math::f32_to_f16(x));
    w.values.push_back(x);
  }
  for (size_t i = 0; i < n; ++i) {
    const float x = w.values[i];
    const uint16_t half = dtype == DType::BF16 ? math::f32_to_bf16(x) : math::f32_to_f16(x);
    if (dtype == DType::F32) std::memcpy(w.bytes.data() + i * 4, &x, 4);
    else std::memcpy(w.bytes.data() + i * 2, &half, 2);
  }
  return w;
}

// One launch of a row kernel on the host: partial[] per block, its tree reduction as the kernel
// runs it (a step for every thread, then the next step).
float host_block_sum(const std::vector<float>& per_thread) {
  std::vector<float> partial = per_thread;
  for (int stride = kRowThreads / 2; stride > 0; stride /= 2)
    for (int t = 0; t < kRowThreads; ++t) tree_reduce_step(partial.data(), t, stride);
  return partial[0];
}

// Every thread of every block of an element-wise launch over n items, as the .cu file launches it.
template <class Fn>
void host_pointwise(int64_t n, Fn fn) {
  for (int64_t b = 0; b < blocks_for(n, kPointwiseThreads); ++b)
    for (int t = 0; t < kPointwiseThreads; ++t)
      if (const int64_t e = flat_index(b, t, kPointwiseThreads); e < n) fn(e);
}

void check_close(float got, double want, double tol) {
  BOOST_TEST(std::isfinite(got));
  BOOST_TEST(std::abs(static_cast<double>(got) - want) <= tol, got << " vs " << want << " (tolerance " << tol << ")");
}

const int64_t kDims[] = {1, 3, 255, 256, 257, 1000, 2049};
const DType kDtypes[] = {DType::F32, DType::BF16, DType::F16};

}  // namespace

BOOST_AUTO_TEST_CASE(rms_norm_every_thread_matches_double) {
  for (const DType dtype : kDtypes)
    for (const int64_t dim : kDims) {
      const int64_t rows = 1 + static_cast<int64_t>(rng() % 4);
      const auto x = random_floats(static_cast<size_t>(rows * dim), 2.0f);
      const Weight w = make_weight(dtype, static_cast<size_t>(dim), 0.5f, 1.0f);
      const float eps = 1e-6f;
      std::vector<float> y(x.size(), NAN);
      for (int64_t row = 0; row < rows; ++row) {
        const float* xr = x.data() + row * dim;
        std::vector<float> partial(kRowThreads);
        for (int t = 0; t < kRowThreads; ++t) partial[t] = sum_squares(xr, dim, t, kRowThreads);
        const float inv = inverse_root_mean(host_block_sum(partial), dim, eps);
        for (int t = 0; t < kRowThreads; ++t)
          rms_norm_store(xr, dim, w.bytes.data(), dtype, inv, y.data() + row * dim, t, kRowThreads);
      }
      for (int64_t row = 0; row < rows; ++row) {
        double ss = 0;
        for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(x[row * dim + i]) * x[row * dim + i];
        const double inv = 1.0 / std::sqrt(ss / static_cast<double>(dim) + eps);
        for (int64_t i = 0; i < dim; ++i) {
          const double want = x[row * dim + i] * inv * w.values[i];
          check_close(y[row * dim + i], want, 2e-5 * (1.0 + std::abs(want)));
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(layer_norm_every_thread_matches_double) {
  for (const DType dtype : kDtypes)
    for (const int64_t dim : kDims) {
      const int64_t rows = 1 + static_cast<int64_t>(rng() % 4);
      auto x = random_floats(static_cast<size_t>(rows * dim), 1.5f);
      for (auto& v : x) v += 3.0f;  // an offset mean, as the vision activations have
      const Weight w = make_weight(dtype, static_cast<size_t>(dim), 0.5f, 1.0f);
      const Weight b = make_weight(dtype, static_cast<size_t>(dim), 0.5f, 0.0f);
      const float eps = 1e-6f;
      std::vector<float> y(x.size(), NAN);
      for (int64_t row = 0; row < rows; ++row) {
        const float* xr = x.data() + row * dim;
        std::vector<float> partial(kRowThreads);
        for (int t = 0; t < kRowThreads; ++t) partial[t] = sum_values(xr, dim, t, kRowThreads);
        const float mean = host_block_sum(partial) / static_cast<float>(dim);
        for (int t = 0; t < kRowThreads; ++t) partial[t] = sum_centred_squares(xr, dim, mean, t, kRowThreads);
        const float inv = inverse_root_mean(host_block_sum(partial), dim, eps);
        for (int t = 0; t < kRowThreads; ++t)
          layer_norm_store(xr, dim, mean, inv, w.bytes.data(), dtype, b.bytes.data(), dtype, y.data() + row * dim, t,
                           kRowThreads);
      }
      for (int64_t row = 0; row < rows; ++row) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < dim; ++i) mean += x[row * dim + i];
        mean /= static_cast<double>(dim);
        for (int64_t i = 0; i < dim; ++i) var += (x[row * dim + i] - mean) * (x[row * dim + i] - mean);
        const double inv = 1.0 / std::sqrt(var / static_cast<double>(dim) + eps);
        for (int64_t i = 0; i < dim; ++i) {
          const double want = (x[row * dim + i] - mean) * inv * w.values[i] + b.values[i];
          check_close(y[row * dim + i], want, 2e-5 * (1.0 + std::abs(want)));
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(activations_every_thread_match_double) {
  for (const int64_t n : {int64_t{1}, int64_t{7}, int64_t{256}, int64_t{1001}}) {
    const auto gate = random_floats(static_cast<size_t>(n), 4.0f), up = random_floats(static_cast<size_t>(n), 2.0f);
    auto silu = gate, tanh_gelu = gate, erf_gelu = gate;
    host_pointwise(n, [&](int64_t e) { silu_mul_at(silu.data(), up.data(), e); });
    host_pointwise(n, [&](int64_t e) { gelu_tanh_at(tanh_gelu.data(), e); });
    host_pointwise(n, [&](int64_t e) { gelu_erf_at(erf_gelu.data(), e); });
    for (int64_t i = 0; i < n; ++i) {
      const double g = gate[i], u = up[i];
      const double want_silu = g / (1.0 + std::exp(-g)) * u;
      check_close(silu[i], want_silu, 1e-6 * (1.0 + std::abs(g * u)));
      const double want_tanh = 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g)));
      check_close(tanh_gelu[i], want_tanh, 1e-6 * (1.0 + std::abs(g)));
      const double want_erf = 0.5 * g * (1.0 + std::erf(g / std::sqrt(2.0)));
      check_close(erf_gelu[i], want_erf, 1e-6 * (1.0 + std::abs(g)));
    }
  }
}

BOOST_AUTO_TEST_CASE(add_is_exact_on_every_thread) {
  for (const int64_t n : {int64_t{1}, int64_t{255}, int64_t{257}, int64_t{3000}}) {
    auto x = random_floats(static_cast<size_t>(n), 3.0f);
    const auto y = random_floats(static_cast<size_t>(n), 3.0f), before = x;
    host_pointwise(n, [&](int64_t e) { add_at(x.data(), y.data(), e); });
    for (int64_t i = 0; i < n; ++i)
      BOOST_TEST(x[i] == static_cast<float>(static_cast<double>(before[i]) + y[i]));
  }
}

// Heads inside a wider row (row_stride > heads * head_dim, as q/k inside a fused qkv row): the
// heads rotate by their row's table, the rest of the row stays as it was.
BOOST_AUTO_TEST_CASE(rotary_every_pair_matches_double_and_leaves_the_rest) {
  struct Shape { int64_t rows; int heads, head_dim, pad; };
  for (const Shape s : {Shape{1, 1, 2, 0}, Shape{3, 2, 64, 5}, Shape{5, 3, 128, 0}, Shape{7, 16, 80, 33}}) {
    const int half = s.head_dim / 2;
    const int64_t stride = static_cast<int64_t>(s.heads) * s.head_dim + s.pad;
    auto x = random_floats(static_cast<size_t>(s.rows * stride), 1.0f);
    const auto before = x;
    std::vector<float> cos(static_cast<size_t>(s.rows * half)), sin(cos.size());
    std::uniform_real_distribution<float> angle(-10.0f, 10.0f);
    for (size_t i = 0; i < cos.size(); ++i) {
      const float a = angle(rng);
      cos[i] = std::cos(a);
      sin[i] = std::sin(a);
    }
    host_pointwise(s.rows * s.heads * half,
                   [&](int64_t e) { rotary_at(x.data(), stride, s.heads, s.head_dim, cos.data(), sin.data(), e); });
    for (int64_t r = 0; r < s.rows; ++r) {
      for (int h = 0; h < s.heads; ++h)
        for (int i = 0; i < half; ++i) {
          const int64_t lo = r * stride + h * s.head_dim + i, hi = lo + half;
          const double a = before[lo], b = before[hi], c = cos[r * half + i], sn = sin[r * half + i];
          const double tol = 1e-6 * (std::abs(a) + std::abs(b));
          check_close(x[lo], a * c - b * sn, tol);
          check_close(x[hi], b * c + a * sn, tol);
        }
      for (int64_t j = static_cast<int64_t>(s.heads) * s.head_dim; j < stride; ++j)
        BOOST_TEST(x[r * stride + j] == before[r * stride + j]);
    }
  }
}

BOOST_AUTO_TEST_CASE(embed_gathers_every_row_exactly) {
  for (const DType dtype : kDtypes)
    for (const int64_t cols : {int64_t{1}, int64_t{3}, int64_t{257}}) {
      const int64_t vocab = 11;
      const Weight table = make_weight(dtype, static_cast<size_t>(vocab * cols), 1.0f, 0.0f);
      const std::vector<int32_t> ids = {4, 0, 10, 4, 7};
      const auto rows = static_cast<int64_t>(ids.size());
      std::vector<float> out(static_cast<size_t>(rows * cols), NAN);
      host_pointwise(rows * cols,
                     [&](int64_t e) { embed_at(table.bytes.data(), dtype, cols, ids.data(), out.data(), e); });
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) BOOST_TEST(out[r * cols + c] == table.values[ids[r] * cols + c]);
    }
}
