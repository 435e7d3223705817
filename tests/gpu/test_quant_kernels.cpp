// The Q8/Q4 quantisers and integer matmul kernels (gpu/cpu/quant.h): the quantisation error
// bounds and byte layout, each kernel path against a double-precision product of the dequantised
// weights and activations, the AVX2 and AVX-512 VNNI paths against each other, and batch
// invariance over row groupings and column splits.
#define BOOST_TEST_MODULE quant_kernels
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <random>
#include <stdexcept>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/cpu_features.h"
#include "gpu/cpu/quant.h"
#include "gpu/kernel_math.h"

using namespace pio;

namespace {

std::mt19937 rng(4321);

std::vector<float> random_floats(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A Plain weight in `dtype` and the float values it holds.
struct PlainWeight {
  DType dtype;
  std::vector<float> values;  // exactly representable in dtype
  std::vector<uint16_t> half;
  int64_t rows, cols;
  WeightView view() const {
    return {dtype, dtype == DType::F32 ? static_cast<const void*>(values.data()) : half.data(), rows, cols};
  }
};

PlainWeight plain_weight(DType dtype, int64_t rows, int64_t cols, std::vector<float> v) {
  PlainWeight w{dtype, std::move(v), {}, rows, cols};
  for (auto& x : w.values) {
    if (dtype == DType::BF16) {
      w.half.push_back(math::f32_to_bf16(x));
      x = math::bf16_to_f32(w.half.back());
    } else if (dtype == DType::F16) {
      w.half.push_back(math::f32_to_f16(x));
      x = math::f16_to_f32(w.half.back());
    }
  }
  return w;
}

PlainWeight random_weight(DType dtype, int64_t rows, int64_t cols) {
  return plain_weight(dtype, rows, cols, random_floats(static_cast<size_t>(rows * cols), 0.05f));
}

struct FreeAligned {
  void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{64}); }
};

// A quantised copy of a Plain weight in a 64-byte aligned buffer.
struct QuantWeight {
  std::unique_ptr<uint8_t[], FreeAligned> bytes;
  WeightView view;
  int64_t size;
};

QuantWeight quantize(const PlainWeight& w, WeightFormat f) {
  const int64_t size = cpu::quantized_bytes(f, w.rows, w.cols);
  QuantWeight q{std::unique_ptr<uint8_t[], FreeAligned>(
                    new (std::align_val_t{64}) uint8_t[static_cast<size_t>(std::max<int64_t>(size, 64))]),
                {}, size};
  cpu::quantize_weight(w.view(), f, q.bytes.get());
  q.view = {w.dtype, q.bytes.get(), w.rows, w.cols, f};
  return q;
}

std::vector<float> dequantized(const QuantWeight& q) {
  std::vector<float> out(static_cast<size_t>(q.view.rows * q.view.cols));
  cpu::dequantize_weight(q.view, out.data());
  return out;
}

// The value activation x[i, t] stands for after quantize_rows.
double activation(const cpu::QuantizedRows& x, int64_t i, int64_t t) {
  return static_cast<double>(x.d[static_cast<size_t>(i * x.blocks + t / 32)]) *
         x.q[static_cast<size_t>(i * x.blocks * 32 + t)];
}

// y = x̂·Ŵᵀ + b in double from the dequantised operands; bound gets Σ|terms| per output.
void reference(const cpu::QuantizedRows& x, int64_t k, const std::vector<float>& w, int64_t n, const float* bias,
               std::vector<double>& y, std::vector<double>& bound) {
  y.assign(static_cast<size_t>(x.m * n), 0.0);
  bound = y;
  for (int64_t i = 0; i < x.m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = bias ? bias[j] : 0.0, a = std::abs(s);
      for (int64_t t = 0; t < k; ++t) {
        const double p = activation(x, i, t) * w[static_cast<size_t>(j * k + t)];
        s += p;
        a += std::abs(p);
      }
      y[static_cast<size_t>(i * n + j)] = s;
      bound[static_cast<size_t>(i * n + j)] = a;
    }
}

using BlockFn = void (*)(const cpu::QuantMatmulArgs&, int64_t, int64_t);

struct Path {
  const char* name;
  BlockFn fn;
};
// The kernel paths this CPU can run.
std::vector<Path> paths() {
  std::vector<Path> p{{"avx2", cpu::quant_matmul_block_avx2}};
  if (cpu::has_avx512_vnni()) p.push_back({"avx512_vnni", cpu::quant_matmul_block_avx512_vnni});
  return p;
}

const WeightFormat kFormats[] = {WeightFormat::Q8, WeightFormat::Q4};

std::vector<float> run(BlockFn fn, const cpu::QuantizedRows& x, const QuantWeight& w, const PlainWeight* bias,
                       int64_t n0, int64_t n1, std::vector<float> y) {
  fn({&x, w.view, bias ? bias->view() : WeightView{}, y.data()}, n0, n1);
  return y;
}

bool same_bits(const float* a, const float* b, int64_t n) { return std::memcmp(a, b, sizeof(float) * n) == 0; }

}  // namespace

BOOST_AUTO_TEST_CASE(sizes_are_panels_of_16_rows_and_blocks_of_32) {
  // 37 rows -> 3 panels; 100 cols -> 4 blocks.
  BOOST_TEST(cpu::quantized_bytes(WeightFormat::Q8, 37, 100) == 3 * (2 * 1088));
  BOOST_TEST(cpu::quantized_bytes(WeightFormat::Q8, 37, 70) == 3 * (2 * 1088));  // 3 blocks: the pair is padded
  BOOST_TEST(cpu::quantized_bytes(WeightFormat::Q4, 37, 100) == 3 * (4 * 320));
  BOOST_TEST(cpu::quantized_bytes(WeightFormat::Q8, 2048, 2048) == 2048 * 2048 * 34 / 32);
  BOOST_TEST(cpu::quantized_bytes(WeightFormat::Q4, 2048, 2048) == 2048 * 2048 * 20 / 32);
  BOOST_CHECK_THROW(cpu::quantized_bytes(WeightFormat::Plain, 4, 4), std::invalid_argument);
  BOOST_CHECK_THROW(cpu::quantized_bytes(WeightFormat::BF16Packed, 4, 4), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(bad_formats_and_weights_are_rejected) {
  const PlainWeight w = random_weight(DType::F32, 3, 40);
  std::vector<uint8_t> dst(4096);
  BOOST_CHECK_THROW(cpu::quantize_weight(w.view(), WeightFormat::Plain, dst.data()), std::invalid_argument);
  BOOST_CHECK_THROW(cpu::quantize_weight(w.view(), WeightFormat::BF16Packed, dst.data()), std::invalid_argument);
  std::vector<float> v(120, 1.0f);
  v[50] = std::numeric_limits<float>::quiet_NaN();
  for (WeightFormat f : kFormats) {
    BOOST_CHECK_THROW(cpu::quantize_weight(plain_weight(DType::F32, 3, 40, v).view(), f, dst.data()),
                      std::invalid_argument);
  }
  v[50] = 1e9f;  // its Q8 scale would overflow f16
  BOOST_CHECK_THROW(cpu::quantize_weight(plain_weight(DType::F32, 3, 40, v).view(), WeightFormat::Q8, dst.data()),
                    std::invalid_argument);
}

// Integer weights whose blocks quantise exactly (Q8: max 127, d = 1; Q4: 0..15, d = 1, m = 0),
// read back at the byte offsets quant.h documents.
BOOST_AUTO_TEST_CASE(bytes_follow_the_documented_layout) {
  const int64_t rows = 20, cols = 70, kb = 3;
  std::vector<float> v8(rows * cols), v4(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      v8[r * cols + c] = c % 32 == 0 ? 127.0f : static_cast<float>((r * 7 + c * 3) % 255 - 127);
      v4[r * cols + c] = c % 32 == 0 ? 15.0f : c % 32 == 1 ? 0.0f : static_cast<float>((r * 5 + c) % 16);
    }
  const QuantWeight q8 = quantize(plain_weight(DType::F32, rows, cols, v8), WeightFormat::Q8);
  const QuantWeight q4 = quantize(plain_weight(DType::F32, rows, cols, v4), WeightFormat::Q4);
  const int64_t pb8 = 2 * 1088, pb4 = kb * 320;
  const uint16_t one = math::f32_to_f16(1.0f);
  auto f16_at = [](const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return h;
  };
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = r / 16, pr = r % 16;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t b = c / 32, t = c % 32;
      const auto q8byte = static_cast<int8_t>(q8.bytes[p * pb8 + b / 2 * 1088 + 64 + b % 2 * 512 + t / 4 * 64 + pr * 4 + t % 4]);
      BOOST_TEST_REQUIRE(q8byte == v8[r * cols + c]);
      const uint8_t q4byte = q4.bytes[p * pb4 + b * 320 + 64 + t / 8 * 64 + pr * 4 + t % 4];
      BOOST_TEST_REQUIRE((q4byte >> (t % 8 / 4 * 4) & 15) == v4[r * cols + c]);
    }
    for (int64_t b = 0; b < kb; ++b) {
      BOOST_TEST_REQUIRE(f16_at(&q8.bytes[p * pb8 + b / 2 * 1088 + b % 2 * 32 + pr * 2]) == one);
      BOOST_TEST_REQUIRE(f16_at(&q4.bytes[p * pb4 + b * 320 + pr * 2]) == one);
      BOOST_TEST_REQUIRE(f16_at(&q4.bytes[p * pb4 + b * 320 + 32 + pr * 2]) == 0);
    }
  }
  // Padding rows, columns and the unused fourth Q8 block are zero.
  BOOST_TEST(q8.bytes[1 * pb8 + 1088 + 64 + 7 * 64 + 15 * 4] == 0);
  BOOST_TEST(q8.bytes[1 * pb8 + 1088 + 64 + 512 + 3 * 64] == 0);
  BOOST_TEST(q4.bytes[1 * pb4 + 2 * 320 + 64 + 3 * 64 + 15 * 4] == 0);
}

// |w - ŵ| <= d / 2 per element, d the block's scale: Q8 d <= max|w| / 127 rounded up to f16;
// Q4 d <= (max - min') / 15 rounded up, min' = min rounded down to f16. Also quantising twice
// gives the same bytes.
BOOST_AUTO_TEST_CASE(dequantised_weights_are_within_half_a_step) {
  const double f16_up = 1.0 + std::ldexp(1.0, -10);
  for (DType dtype : {DType::F32, DType::BF16, DType::F16}) {
    for (WeightFormat f : kFormats) {
      const int64_t rows = 37, cols = 100;
      std::vector<float> v = random_floats(static_cast<size_t>(rows * cols), 0.05f);
      for (int64_t c = 0; c < 32; ++c) v[static_cast<size_t>(2 * cols + c)] = 0.75f;  // a constant block
      for (int64_t c = 32; c < 64; ++c) v[static_cast<size_t>(3 * cols + c)] = 0.0f;  // an all-zero block
      for (int64_t c = 0; c < cols; ++c) v[static_cast<size_t>(4 * cols + c)] += 3.0f;  // far from zero
      const PlainWeight w = plain_weight(dtype, rows, cols, v);
      const QuantWeight q = quantize(w, f);
      const QuantWeight again = quantize(w, f);
      BOOST_TEST(std::memcmp(q.bytes.get(), again.bytes.get(), static_cast<size_t>(q.size)) == 0);
      const std::vector<float> back = dequantized(q);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t b0 = 0; b0 < cols; b0 += 32) {
          const int64_t b1 = std::min(cols, b0 + 32);
          double lo = 0.0, hi = 0.0, amax = 0.0;  // the zero padding takes part in the block's range
          if (b1 - b0 == 32) lo = hi = w.values[static_cast<size_t>(r * cols + b0)];
          for (int64_t c = b0; c < b1; ++c) {
            const double x = w.values[static_cast<size_t>(r * cols + c)];
            lo = std::min(lo, x);
            hi = std::max(hi, x);
            amax = std::max(amax, std::abs(x));
          }
          const double step = f == WeightFormat::Q8
                                  ? amax / 127.0 * f16_up
                                  : (hi - lo + std::abs(lo) * std::ldexp(1.0, -10)) / 15.0 * f16_up;
          for (int64_t c = b0; c < b1; ++c) {
            const double err = std::abs(w.values[static_cast<size_t>(r * cols + c)] - back[static_cast<size_t>(r * cols + c)]);
            BOOST_TEST_REQUIRE(err <= step / 2 * (1 + 1e-5) + 1e-12,
                               "row " << r << " col " << c << " error " << err << " step " << step);
          }
        }
      }
      for (int64_t c = 32; c < 64; ++c) BOOST_TEST_REQUIRE(back[static_cast<size_t>(3 * cols + c)] == 0.0f);
    }
  }
}

BOOST_AUTO_TEST_CASE(activations_are_quantised_per_row_within_half_a_step) {
  const int64_t m = 3, k = 100;
  std::vector<float> x = random_floats(static_cast<size_t>(m * k));
  std::fill(x.begin() + k, x.begin() + 2 * k, 0.0f);  // a zero row
  cpu::QuantizedRows q;
  cpu::quantize_rows(x.data(), m, k, q);
  BOOST_TEST(q.blocks == 4);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t b = 0; b < q.blocks; ++b) {
      double amax = 0.0;
      int32_t sum = 0;
      for (int64_t t = b * 32; t < std::min(k, b * 32 + 32); ++t) amax = std::max(amax, std::abs(double{x[i * k + t]}));
      for (int64_t t = b * 32; t < b * 32 + 32; ++t) sum += q.q[static_cast<size_t>(i * q.blocks * 32 + t)];
      const size_t at = static_cast<size_t>(i * q.blocks + b);
      BOOST_TEST_REQUIRE(std::abs(q.d[at] - amax / 127.0) <= amax * 1e-6);
      BOOST_TEST_REQUIRE(q.s[at] == -128 * sum);
      BOOST_TEST_REQUIRE(q.ds[at] == q.d[at] * static_cast<float>(sum));
      for (int64_t t = b * 32; t < b * 32 + 32; ++t) {
        const double want = t < k ? x[static_cast<size_t>(i * k + t)] : 0.0;
        BOOST_TEST_REQUIRE(std::abs(activation(q, i, t) - want) <= q.d[at] * (0.5 + 1e-5) + 1e-30);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(kernels_match_the_dequantised_reference) {
  for (const Path& path : paths()) {
    for (WeightFormat f : kFormats) {
      for (int64_t k : {33, 100, 256}) {
        for (int64_t n : {1, 7, 37}) {
          const QuantWeight w = quantize(random_weight(DType::BF16, n, k), f);
          const std::vector<float> wd = dequantized(w);
          const PlainWeight bias = random_weight(DType::F32, 1, n);
          for (int64_t m : {1, 3, 9, 17}) {
            const std::vector<float> xf = random_floats(static_cast<size_t>(m * k));
            cpu::QuantizedRows x;
            cpu::quantize_rows(xf.data(), m, k, x);
            for (bool with_bias : {false, true}) {
              BOOST_TEST_CONTEXT(path.name << " format " << static_cast<int>(f) << " m " << m << " k " << k << " n " << n
                                           << " bias " << with_bias) {
                std::vector<double> want, bound;
                reference(x, k, wd, n, with_bias ? bias.values.data() : nullptr, want, bound);
                const std::vector<float> y =
                    run(path.fn, x, w, with_bias ? &bias : nullptr, 0, n, std::vector<float>(static_cast<size_t>(m * n)));
                for (size_t e = 0; e < y.size(); ++e)
                  BOOST_TEST_REQUIRE(std::abs(y[e] - want[e]) <= 1e-5 * bound[e] + 1e-30,
                                     "element " << e << ": " << y[e] << " vs " << want[e]);
              }
            }
          }
        }
      }
    }
  }
}

// Both paths compute each output with the same float steps (quant.h), so they agree bit for bit.
BOOST_AUTO_TEST_CASE(avx2_and_vnni_paths_give_the_same_bits) {
  if (!cpu::has_avx512_vnni()) {
    BOOST_TEST_MESSAGE("no AVX-512 VNNI on this CPU: only the AVX2 path runs");
    return;
  }
  for (WeightFormat f : kFormats) {
    const int64_t m = 9, k = 300, n = 70;
    const QuantWeight w = quantize(random_weight(DType::F16, n, k), f);
    const PlainWeight bias = random_weight(DType::BF16, 1, n);
    const std::vector<float> xf = random_floats(static_cast<size_t>(m * k));
    cpu::QuantizedRows x;
    cpu::quantize_rows(xf.data(), m, k, x);
    const std::vector<float> zeros(static_cast<size_t>(m * n));
    const std::vector<float> a = run(cpu::quant_matmul_block_avx2, x, w, &bias, 0, n, zeros);
    const std::vector<float> b = run(cpu::quant_matmul_block_avx512_vnni, x, w, &bias, 0, n, zeros);
    BOOST_TEST(same_bits(a.data(), b.data(), m * n));
  }
}

// Row i's outputs have the same bits alone (m = 1) or inside 13 rows, and whatever split of the
// columns computes them; the backend's threaded dispatch gives them too.
BOOST_AUTO_TEST_CASE(rows_and_columns_are_batch_invariant) {
  const int64_t m = 13, k = 100, n = 150;
  const std::vector<float> xf = random_floats(static_cast<size_t>(m * k));
  cpu::QuantizedRows all;
  cpu::quantize_rows(xf.data(), m, k, all);
  const auto backend = make_cpu_backend(3);
  for (WeightFormat f : kFormats) {
    const QuantWeight w = quantize(random_weight(DType::BF16, n, k), f);
    const PlainWeight bias = random_weight(DType::F32, 1, n);
    const std::vector<float> zeros(static_cast<size_t>(m * n));
    for (const Path& path : paths()) {
      BOOST_TEST_CONTEXT(path.name << " format " << static_cast<int>(f)) {
        const std::vector<float> whole = run(path.fn, all, w, &bias, 0, n, zeros);
        std::vector<float> split = zeros;
        const int64_t bounds[] = {0, 5, 13, 40, 64, 97, n};  // cuts inside panels and tiles
        for (size_t s = 0; s + 1 < std::size(bounds); ++s) split = run(path.fn, all, w, &bias, bounds[s], bounds[s + 1], split);
        BOOST_TEST(same_bits(whole.data(), split.data(), m * n));
        for (int64_t i = 0; i < m; ++i) {
          cpu::QuantizedRows one;
          cpu::quantize_rows(xf.data() + i * k, 1, k, one);
          const std::vector<float> alone = run(path.fn, one, w, &bias, 0, n, std::vector<float>(static_cast<size_t>(n)));
          BOOST_TEST_REQUIRE(same_bits(alone.data(), whole.data() + i * n, n), "row " << i);
        }
      }
    }
    std::vector<float> y(static_cast<size_t>(m * n));
    backend->matmul(xf.data(), m, w.view, bias.view(), y.data());
    const std::vector<float> want =
        run(cpu::has_avx512_vnni() ? cpu::quant_matmul_block_avx512_vnni : cpu::quant_matmul_block_avx2, all, w,
            &bias, 0, n, zeros);
    BOOST_TEST(same_bits(y.data(), want.data(), m * n));
  }
}
