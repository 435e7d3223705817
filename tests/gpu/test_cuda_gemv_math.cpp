// The CUDA matmul kernels' arithmetic (gpu/cuda/gemv_math.h) run on the CPU over every block,
// warp, lane and barrier-separated phase of their launches, as gemv.cu and gemm_tiled.cu launch
// them: against double-precision references, the activation quantiser against the CPU's bit
// for bit, and batch invariance bit for bit (a row's outputs do not depend on m or on the other
// rows; the deterministic GEMM equals the GEMV); the cuBLAS path's f16 row scaling
// (activation_scale_math.h); and which rows the backend keeps from cuBLAS (matmul_rows.h).
//
// Tolerances. A float32 sum of terms t_j rounded after each of L sequential operations is within
// L · 2^-24 · Σ|t_j| of the exact sum (the classic γ_L bound to first order). For the dense
// kernels the longest chain is one lane's fmaf over ceil(k / 256) chunks of 8 columns then the
// 5 tree additions: L = 8 · ceil(k / 256) + 5. For Q8/Q4 each block's term takes up to 3
// roundings (the product float(dot) · dx, the fmaf, and for Q4 ds = dx · Σq), the split's chain
// ceil(KB / 16) blocks and the tree 4 additions: L = 3 · ceil(KB / 16) + 8 (and the reference
// dequantises Q4 weights as d · q + m, one more rounding per term). The bounds are stated with a
// factor 2 margin.
#define BOOST_TEST_MODULE cuda_gemv_math
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/quant.h"
#include "gpu/cuda/activation_scale_math.h"
#include "gpu/cuda/gemv_math.h"
#include "gpu/cuda/matmul_rows.h"
#include "tests/gpu/cuda_matmul_emulation.h"
#include "gpu/kernel_math.h"

using namespace pio;
using namespace pio::cuda_math;
using namespace pio::test;

namespace {

std::mt19937 rng(2024);

std::vector<float> random_floats(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

constexpr double kUnit = 1.0 / (1 << 24);

// Checks y against the double product of x and the weight's values, within the dense bound.
void check_dense(const std::vector<float>& y, const std::vector<float>& x, int64_t m, const std::vector<float>& w,
                 int64_t n, int64_t k, const float* bias) {
  const double chain = 8.0 * static_cast<double>(ceil_div(k, kStepCols)) + 5.0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double ref = bias ? bias[j] : 0.0, mag = bias ? std::fabs(bias[j]) : 0.0;
      for (int64_t c = 0; c < k; ++c) {
        const double t = static_cast<double>(x[i * k + c]) * w[j * k + c];
        ref += t;
        mag += std::fabs(t);
      }
      const double tol = 2.0 * chain * kUnit * mag + 1e-30;
      BOOST_TEST_REQUIRE(std::fabs(y[i * n + j] - ref) <= tol, "y[" << i << "," << j << "] = " << y[i * n + j]
                                                                      << " vs " << ref << " (tol " << tol << ")");
    }
  }
}

bool same_bits(const float* a, const float* b, size_t count) { return std::memcmp(a, b, count * sizeof(float)) == 0; }

struct Shape {
  int64_t m, n, k;
};

}  // namespace

BOOST_AUTO_TEST_CASE(dense_gemv_matches_double_reference_for_every_dtype) {
  for (const Shape s : {Shape{1, 5, 8}, Shape{3, 37, 300}, Shape{7, 12, 1}, Shape{16, 9, 777}, Shape{20, 6, 513}}) {
    const auto x = random_floats(static_cast<size_t>(s.m * s.k));
    const auto bias = random_floats(static_cast<size_t>(s.n));
    for (const bool with_bias : {false, true}) {
      const float* b = with_bias ? bias.data() : nullptr;
      const Dense bf = dense_weight(DType::BF16, random_floats(static_cast<size_t>(s.n * s.k), 0.05f));
      check_dense(run_gemv_dense<DType::BF16>(x, s.m, bf.data(), s.n, s.k, b), x, s.m, bf.values, s.n, s.k, b);
      const Dense f16 = dense_weight(DType::F16, random_floats(static_cast<size_t>(s.n * s.k), 0.05f));
      check_dense(run_gemv_dense<DType::F16>(x, s.m, f16.data(), s.n, s.k, b), x, s.m, f16.values, s.n, s.k, b);
      const Dense f32 = dense_weight(DType::F32, random_floats(static_cast<size_t>(s.n * s.k), 0.05f));
      check_dense(run_gemv_dense<DType::F32>(x, s.m, f32.data(), s.n, s.k, b), x, s.m, f32.values, s.n, s.k, b);
    }
  }
}

// SM61 keeps bf16 weights as f32 (exact): the same bits as the bf16 kernel.
BOOST_AUTO_TEST_CASE(dense_gemv_bf16_and_its_exact_f32_copy_give_the_same_bits) {
  const int64_t m = 5, n = 11, k = 419;
  const auto x = random_floats(static_cast<size_t>(m * k));
  const Dense bf = dense_weight(DType::BF16, random_floats(static_cast<size_t>(n * k)));
  std::vector<float> as_f32(bf.half.size());
  for (size_t i = 0; i < as_f32.size(); ++i) as_f32[i] = math::bf16_to_f32(bf.half[i]);
  const auto a = run_gemv_dense<DType::BF16>(x, m, bf.half.data(), n, k, nullptr);
  const auto b = run_gemv_dense<DType::F32>(x, m, as_f32.data(), n, k, nullptr);
  BOOST_TEST(same_bits(a.data(), b.data(), a.size()));
}

// Row r's outputs are the same bits alone (m = 1), among 7 rows, and among 23 (two passes of 16).
BOOST_AUTO_TEST_CASE(dense_gemv_is_batch_invariant_bit_for_bit) {
  const int64_t n = 13, k = 1031;
  const Dense w = dense_weight(DType::BF16, random_floats(static_cast<size_t>(n * k), 0.05f));
  const auto bias = random_floats(static_cast<size_t>(n));
  const auto big = random_floats(static_cast<size_t>(23 * k));
  const auto all = run_gemv_dense<DType::BF16>(big, 23, w.half.data(), n, k, bias.data());
  for (const int64_t r : {0, 4, 6, 17, 22}) {
    const std::vector<float> one(big.begin() + r * k, big.begin() + (r + 1) * k);
    const auto alone = run_gemv_dense<DType::BF16>(one, 1, w.half.data(), n, k, bias.data());
    BOOST_TEST(same_bits(alone.data(), all.data() + r * n, static_cast<size_t>(n)), "row " << r);
    // Row r among 7 rows whose others are different values.
    auto seven = random_floats(static_cast<size_t>(7 * k));
    const int64_t at = r % 7;
    std::copy(one.begin(), one.end(), seven.begin() + at * k);
    const auto in7 = run_gemv_dense<DType::BF16>(seven, 7, w.half.data(), n, k, bias.data());
    BOOST_TEST(same_bits(alone.data(), in7.data() + at * n, static_cast<size_t>(n)), "row " << r);
  }
}

// The deterministic prefill GEMM equals the decode GEMV bit for bit, so a prompt's rows do not
// depend on how it is split between the two.
BOOST_AUTO_TEST_CASE(tiled_gemm_matches_reference_and_equals_gemv_bit_for_bit) {
  for (const Shape s : {Shape{1, 3, 5}, Shape{37, 29, 300}, Shape{16, 16, 256}, Shape{45, 17, 1100}}) {
    const auto x = random_floats(static_cast<size_t>(s.m * s.k));
    const auto bias = random_floats(static_cast<size_t>(s.n));
    const Dense w = dense_weight(DType::BF16, random_floats(static_cast<size_t>(s.n * s.k), 0.05f));
    const auto tiled = run_gemm_tiled<DType::BF16>(x, s.m, w.half.data(), s.n, s.k, bias.data());
    check_dense(tiled, x, s.m, w.values, s.n, s.k, bias.data());
    const auto gemv = run_gemv_dense<DType::BF16>(x, s.m, w.half.data(), s.n, s.k, bias.data());
    BOOST_TEST(same_bits(tiled.data(), gemv.data(), tiled.size()), "m " << s.m << " n " << s.n << " k " << s.k);
    const Dense f16 = dense_weight(DType::F16, random_floats(static_cast<size_t>(s.n * s.k), 0.05f));
    const auto t16 = run_gemm_tiled<DType::F16>(x, s.m, f16.half.data(), s.n, s.k, nullptr);
    const auto g16 = run_gemv_dense<DType::F16>(x, s.m, f16.half.data(), s.n, s.k, nullptr);
    BOOST_TEST(same_bits(t16.data(), g16.data(), t16.size()));
  }
}


BOOST_AUTO_TEST_CASE(activation_quantisation_equals_the_cpu_bit_for_bit) {
  for (const int64_t k : {int64_t{1}, int64_t{31}, int64_t{32}, int64_t{300}, int64_t{1100}}) {
    const int64_t m = 5;
    auto x = random_floats(static_cast<size_t>(m * k), 3.0f);
    for (int64_t c = 0; c < std::min<int64_t>(k, 32); ++c) x[static_cast<size_t>(k + c)] = 0.0f;  // an all-zero block
    const auto gpu = run_quantize_rows(x, m, k);
    cpu::QuantizedRows cpu_rows;
    cpu::quantize_rows(x.data(), m, k, cpu_rows);
    const size_t blocks = static_cast<size_t>(m * gpu.blocks);
    BOOST_TEST(std::memcmp(gpu.q.data(), cpu_rows.q.data(), blocks * kQBlock) == 0, "k " << k);
    BOOST_TEST(same_bits(gpu.d.data(), cpu_rows.d.data(), blocks), "k " << k);
    BOOST_TEST(same_bits(gpu.ds.data(), cpu_rows.ds.data(), blocks), "k " << k);
  }
}

BOOST_AUTO_TEST_CASE(quant_gemv_matches_double_reference_and_the_cpu_kernel) {
  for (const WeightFormat f : {WeightFormat::Q8, WeightFormat::Q4}) {
    const bool q4 = f == WeightFormat::Q4;
    for (const Shape s :
         {Shape{1, 16, 32}, Shape{3, 37, 300}, Shape{7, 5, 1}, Shape{16, 21, 1100}, Shape{19, 33, 65}}) {
      const auto w = random_floats(static_cast<size_t>(s.n * s.k), 0.05f);
      const auto x = random_floats(static_cast<size_t>(s.m * s.k));
      const auto bias = random_floats(static_cast<size_t>(s.n));
      const Quantized qw = quantize(f, w, s.n, s.k);
      const auto xq = run_quantize_rows(x, s.m, s.k);
      const auto y = run_gemv_quant(q4, xq, s.m, qw.bytes.get(), s.n, s.k, bias.data());
      const int64_t kb = ceil_div(s.k, kQBlock);
      const double chain = 3.0 * static_cast<double>(ceil_div(kb, kQuantSplits)) + 8.0;
      // The CPU's kernel computes the same quantities sequentially over the blocks.
      const double cpu_chain = 3.0 * static_cast<double>(kb) + 2.0;
      cpu::QuantizedRows cpu_rows;
      cpu::quantize_rows(x.data(), s.m, s.k, cpu_rows);
      std::vector<float> cpu_y(static_cast<size_t>(s.m * s.n));
      cpu::QuantMatmulArgs args{&cpu_rows, WeightView{DType::F32, qw.bytes.get(), s.n, s.k, f},
                                WeightView{DType::F32, bias.data(), 1, s.n}, cpu_y.data()};
      cpu::quant_matmul_block_avx2(args, 0, s.n);
      for (int64_t i = 0; i < s.m; ++i) {
        for (int64_t j = 0; j < s.n; ++j) {
          // The exact product of what the quantised weight and activations stand for.
          double ref = bias[j], mag = std::fabs(bias[j]);
          for (int64_t c = 0; c < s.k; ++c) {
            const size_t at = static_cast<size_t>(i * kb * kQBlock + c);
            const double t = static_cast<double>(qw.values[j * s.k + c]) * xq.q[at] * xq.d[i * kb + c / kQBlock];
            ref += t;
            mag += std::fabs(t);
          }
          const double tol = 2.0 * chain * kUnit * mag + 1e-30;
          const float got = y[i * s.n + j], cpu_got = cpu_y[i * s.n + j];
          BOOST_TEST_REQUIRE(std::fabs(got - ref) <= tol,
                             (q4 ? "Q4" : "Q8") << " y[" << i << "," << j << "] " << got << " vs " << ref);
          BOOST_TEST_REQUIRE(std::fabs(got - cpu_got) <= tol + 2.0 * cpu_chain * kUnit * mag + 1e-30,
                             (q4 ? "Q4" : "Q8") << " y[" << i << "," << j << "] " << got << " vs CPU " << cpu_got);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(quant_gemv_is_batch_invariant_bit_for_bit) {
  const int64_t n = 21, k = 1100;
  for (const WeightFormat f : {WeightFormat::Q8, WeightFormat::Q4}) {
    const bool q4 = f == WeightFormat::Q4;
    const Quantized qw = quantize(f, random_floats(static_cast<size_t>(n * k), 0.05f), n, k);
    const auto bias = random_floats(static_cast<size_t>(n));
    const auto big = random_floats(static_cast<size_t>(23 * k));
    const auto all = run_gemv_quant(q4, run_quantize_rows(big, 23, k), 23, qw.bytes.get(), n, k, bias.data());
    for (const int64_t r : {0, 5, 16, 22}) {
      const std::vector<float> one(big.begin() + r * k, big.begin() + (r + 1) * k);
      const auto alone = run_gemv_quant(q4, run_quantize_rows(one, 1, k), 1, qw.bytes.get(), n, k, bias.data());
      BOOST_TEST(same_bits(alone.data(), all.data() + r * n, static_cast<size_t>(n)), "row " << r);
      auto seven = random_floats(static_cast<size_t>(7 * k));
      const int64_t at = r % 7;
      std::copy(one.begin(), one.end(), seven.begin() + at * k);
      const auto in7 = run_gemv_quant(q4, run_quantize_rows(seven, 7, k), 7, qw.bytes.get(), n, k, bias.data());
      BOOST_TEST(same_bits(alone.data(), in7.data() + at * n, static_cast<size_t>(n)), "row " << r);
    }
  }
}

BOOST_AUTO_TEST_CASE(quantised_weight_values_equal_the_cpu_dequantiser_bit_for_bit) {
  for (const WeightFormat f : {WeightFormat::Q8, WeightFormat::Q4}) {
    const int64_t n = 37, k = 300;
    const Quantized w = quantize(f, random_floats(static_cast<size_t>(n * k), 0.05f), n, k);
    std::vector<float> got(static_cast<size_t>(n * k));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c)
        got[r * k + c] = quant_weight_value(f == WeightFormat::Q4, w.bytes.get(), k, r, c);
    BOOST_TEST(same_bits(got.data(), w.values.data(), got.size()));
  }
}

BOOST_AUTO_TEST_CASE(device_dtype_choice_and_conversions) {
  BOOST_TEST((dense_weight_dtype(9) == DType::BF16));
  BOOST_TEST((dense_weight_dtype(8) == DType::BF16));
  BOOST_TEST((dense_weight_dtype(7) == DType::F16));
  BOOST_TEST((dense_weight_dtype(6) == DType::F32));
  const uint16_t one_third = math::f32_to_bf16(1.0f / 3.0f);
  BOOST_TEST(convert_bf16_weight(one_third, DType::BF16) == one_third);
  BOOST_TEST(math::f16_to_f32(convert_bf16_weight(one_third, DType::F16)) ==
             math::f16_to_f32(math::f32_to_f16(math::bf16_to_f32(one_third))));
  BOOST_TEST(round_activation(1.0f / 3.0f, DType::BF16) == one_third);
  BOOST_TEST(round_activation(1.0f / 3.0f, DType::F16) == math::f32_to_f16(1.0f / 3.0f));
}

// gemm_cublas's row exponents as its kernel computes them: one block of 256 threads per row,
// max_abs_part, then the tree maximum.
static int emulated_row_exponent(const float* row, int64_t k) {
  constexpr int kThreads = 256;
  float partial[kThreads];
  for (int t = 0; t < kThreads; ++t) partial[t] = max_abs_part(row, k, t, kThreads);
  for (int stride = kThreads / 2; stride > 0; stride /= 2)
    for (int t = 0; t < kThreads; ++t) tree_max_step(partial, t, stride);
  return f16_row_exponent(partial[0]);
}

// The F16 path of gemm_cublas (activation_scale_math.h) with its GEMM summed in double: a row with
// values past f16's range, which the plain rounding turns into inf, comes out finite and within
// the f16 rounding of each term (2^-11 relative, with a factor 2 margin) of the double product of
// the unrounded x; rows within the limit take exponent 0 and the plain rounding's bits.
BOOST_AUTO_TEST_CASE(f16_rows_past_its_range_are_scaled_by_a_power_of_two_not_made_inf) {
  const int64_t k = 1031, n = 5;
  std::vector<float> x = random_floats(static_cast<size_t>(4 * k));
  for (int64_t c = 0; c < k; ++c) x[static_cast<size_t>(k + c)] *= 100.0f;
  x[static_cast<size_t>(k + 5)] = 3.0e5f;  // row 1: beyond 65504
  x[static_cast<size_t>(k + 700)] = -7.0e4f;
  x[static_cast<size_t>(2 * k + 9)] = kF16RowLimit;  // row 2: at the limit
  x[static_cast<size_t>(3 * k + 9)] = -std::nextafter(kF16RowLimit, 1e9f);  // row 3: just past it
  BOOST_TEST(std::isinf(math::f16_to_f32(round_activation(3.0e5f, DType::F16))));  // the fault itself

  const int want_exponent[] = {0, 5, 0, 1};  // row 1: 3e5 / 2^5 = 9375 <= 16384 < 3e5 / 2^4
  const auto w = random_floats(static_cast<size_t>(n * k), 0.05f);
  std::vector<uint16_t> wh(w.size());
  for (size_t i = 0; i < w.size(); ++i) wh[i] = math::f32_to_f16(w[i]);
  const auto bias = random_floats(static_cast<size_t>(n));
  for (int64_t r = 0; r < 4; ++r) {
    const float* row = x.data() + r * k;
    const int e = emulated_row_exponent(row, k);
    BOOST_TEST(e == want_exponent[r], "row " << r);
    if (e == 0)
      for (int64_t c = 0; c < k; ++c) BOOST_TEST(round_scaled_activation(row[c], 0, DType::F16) == round_activation(row[c], DType::F16));
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0, ref = bias[static_cast<size_t>(j)], mag = std::fabs(ref);
      for (int64_t c = 0; c < k; ++c) {
        const double wv = math::f16_to_f32(wh[static_cast<size_t>(j * k + c)]);
        sum += math::f16_to_f32(round_scaled_activation(row[c], e, DType::F16)) * wv;
        ref += row[c] * wv;
        mag += std::fabs(row[c] * wv);
      }
      const float y = finish_scaled(static_cast<float>(sum), e, bias.data(), j);
      BOOST_TEST(std::isfinite(y), "row " << r);
      BOOST_TEST(std::fabs(y - ref) <= 2.0 * mag / 2048.0, "row " << r << " column " << j << ": " << y << " vs " << ref);
    }
  }
  BOOST_TEST(f16_row_exponent(std::numeric_limits<float>::quiet_NaN()) == 0);
  BOOST_TEST(f16_row_exponent(std::numeric_limits<float>::infinity()) == kMaxRowExponent);
}

// Decode rows never reach cuBLAS: they go to the fixed-order kernels with every row when the rest
// is a GEMV pass or less, else as a prefix with the prefill rows beside them on cuBLAS.
BOOST_AUTO_TEST_CASE(decode_rows_stay_with_the_fixed_order_kernels) {
  using cuda::fixed_order_rows;
  for (int64_t m : {1, 7, 16}) BOOST_TEST(fixed_order_rows(m, 0, false) == m);  // one GEMV pass
  BOOST_TEST(fixed_order_rows(17, 0, false) == 0);   // a prefill chunk alone: cuBLAS
  BOOST_TEST(fixed_order_rows(300, 0, true) == 300);  // --deterministic, or a dtype cuBLAS refuses
  BOOST_TEST(fixed_order_rows(21, 1, false) == 1);   // a decode beside a 20-token chunk
  BOOST_TEST(fixed_order_rows(38, 18, false) == 18);
  BOOST_TEST(fixed_order_rows(18, 18, false) == 18);  // 18 decodes: the fixed-order GEMM
  BOOST_TEST(fixed_order_rows(20, 5, false) == 20);   // 15 prefill rows beside: one fixed call
  BOOST_TEST(fixed_order_rows(40, 100, false) == 40);
  BOOST_TEST(fixed_order_rows(40, -3, false) == 0);
}
