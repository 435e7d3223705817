// Every CPU kernel against a naive double-precision reference, on random shapes including
// odd sizes. Tolerances are relative to the magnitude of the terms summed (float32
// accumulation error grows with that, not with the result).
#define BOOST_TEST_MODULE cpu_kernels
#include <boost/test/unit_test.hpp>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <thread>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/attention.h"
#include "gpu/cpu/cpu_features.h"
#include "gpu/cpu/matmul.h"
#include "gpu/cpu/packed_bf16.h"
#include "gpu/cpu/quant.h"
#include "gpu/cpu/row_strips.h"
#include "gpu/cpu/thread_pool.h"
#include "gpu/kernel_math.h"

using namespace pio;

namespace {

std::mt19937 rng(1234);

std::vector<float> random_floats(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Weights stored in `dtype`, plus their exact float values for the reference.
struct TestWeights {
  DType dtype;
  std::vector<float> f32;
  std::vector<uint16_t> half;
  std::vector<double> exact;
  int64_t rows, cols;
  WeightView view() const {
    return {dtype, dtype == DType::F32 ? static_cast<const void*>(f32.data()) : half.data(), rows, cols};
  }
};

TestWeights make_weights(DType dtype, int64_t rows, int64_t cols, float scale = 1.0f) {
  TestWeights w{dtype, random_floats(static_cast<size_t>(rows * cols), scale), {}, {}, rows, cols};
  for (float v : w.f32) {
    if (dtype == DType::BF16) {
      w.half.push_back(math::f32_to_bf16(v));
      w.exact.push_back(math::bf16_to_f32(w.half.back()));
    } else if (dtype == DType::F16) {
      w.half.push_back(math::f32_to_f16(v));
      w.exact.push_back(math::f16_to_f32(w.half.back()));
    } else {
      w.exact.push_back(v);
    }
  }
  return w;
}

// y = x·Wᵀ + b in double; `bound` gets Σ|x·w| + |b| per output for the tolerance.
void reference_matmul(const std::vector<double>& x, int64_t m, const TestWeights& w, const TestWeights* bias,
                      std::vector<double>& y, std::vector<double>& bound) {
  y.assign(static_cast<size_t>(m * w.rows), 0.0);
  bound = y;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < w.rows; ++j) {
      double s = bias ? bias->exact[static_cast<size_t>(j)] : 0.0, a = std::abs(s);
      for (int64_t t = 0; t < w.cols; ++t) {
        const double p = x[static_cast<size_t>(i * w.cols + t)] * w.exact[static_cast<size_t>(j * w.cols + t)];
        s += p;
        a += std::abs(p);
      }
      y[static_cast<size_t>(i * w.rows + j)] = s;
      bound[static_cast<size_t>(i * w.rows + j)] = a;
    }
}

void check_close(const std::vector<float>& got, const std::vector<double>& want, const std::vector<double>& bound,
                 double rel) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    BOOST_TEST_REQUIRE(std::abs(got[i] - want[i]) <= rel * bound[i] + 1e-6, "element " << i << ": " << got[i]
                                                                                         << " vs " << want[i]);
}

// True when got[i] has the bits of want[offset + i] for every i.
bool same_bits(const std::vector<float>& got, const std::vector<float>& want, int64_t offset) {
  return static_cast<int64_t>(want.size()) >= offset + static_cast<int64_t>(got.size()) &&
         std::memcmp(got.data(), want.data() + offset, sizeof(float) * got.size()) == 0;
}

const std::vector<int64_t> kMs{1, 2, 3, 4, 5, 9};
const std::vector<int64_t> kKs{1, 7, 8, 31, 33, 64, 100};
const std::vector<int64_t> kNs{1, 3, 5, 13, 64, 67};

}  // namespace

BOOST_AUTO_TEST_CASE(bf16_and_f16_conversions_round_to_nearest_even) {
  BOOST_TEST(math::f32_to_bf16(1.0f) == 0x3f80);
  BOOST_TEST(math::bf16_to_f32(0x3f80) == 1.0f);
  // 1 + 2^-8 is exactly halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to even (1).
  BOOST_TEST(math::f32_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);
  BOOST_TEST(math::f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82);
  BOOST_TEST(math::f32_to_f16(1.0f) == 0x3c00);
  BOOST_TEST(math::f16_to_f32(0x3c00) == 1.0f);
  BOOST_TEST(math::f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  BOOST_TEST(math::f32_to_f16(65504.0f) == 0x7bff);
  BOOST_TEST(math::f32_to_f16(1e6f) == 0x7c00);  // overflow to infinity
  for (float v : random_floats(1000, 10.0f)) {
    BOOST_TEST(std::abs(math::bf16_to_f32(math::f32_to_bf16(v)) - v) <= std::abs(v) * std::ldexp(1.0, -8));
    BOOST_TEST(std::abs(math::f16_to_f32(math::f32_to_f16(v)) - v) <= std::abs(v) * std::ldexp(1.0, -11) + 1e-7);
  }
}

// The cache sizes the GEMMs block by: what CPUID says, which the C library also reads where it
// reports a level (glibc's sysconf); ordered as caches are on every x86 CPU we serve.
BOOST_AUTO_TEST_CASE(cache_sizes_agree_with_the_os) {
  const auto& c = cpu::cache_sizes();
  BOOST_TEST_MESSAGE("L1d " << c.l1d << ", L2 " << c.l2 << ", L3 per core " << c.l3 << " bytes");
  BOOST_TEST(c.l1d >= 16 * 1024);
  BOOST_TEST(c.l2 >= 4 * c.l1d);
  BOOST_TEST(c.l3 > 0);
  if (const long l1d = sysconf(_SC_LEVEL1_DCACHE_SIZE); l1d > 0) BOOST_TEST(c.l1d == l1d);
  if (const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE); l2 > 0) BOOST_TEST(c.l2 == l2);
}

// Row strips cover every row once, in order; balanced, no strip is under half a strip's height
// once there are rows for a full one (6 + 2 rows as 4 + 4, 6 + 1 as 4 + 3).
BOOST_AUTO_TEST_CASE(row_strips_cover_rows_once_and_balance_short_remainders) {
  for (int64_t m = 1; m <= 40; ++m)
    for (bool balanced : {false, true}) {
      std::vector<std::pair<int64_t, int>> strips;
      const auto record = [&]<int R>(int64_t m0) { strips.emplace_back(m0, R); };
      if (balanced) cpu::for_row_strips<6, true>(m, record);
      else cpu::for_row_strips<6>(m, record);
      int64_t next = 0;
      for (const auto& [m0, rows] : strips) {
        BOOST_TEST_REQUIRE(m0 == next);
        BOOST_TEST(rows <= 6);
        if (balanced && m >= 6) BOOST_TEST(rows >= 3, "m " << m);
        next += rows;
      }
      BOOST_TEST(next == m);
      BOOST_TEST(static_cast<int64_t>(strips.size()) == (m + 5) / 6);
    }
}

BOOST_AUTO_TEST_CASE(thread_pool_runs_every_task_once) {
  cpu::ThreadPool pool(3);
  for (int64_t n : {0, 1, 2, 7, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.run(n, [&](int64_t t, int worker) {
      BOOST_REQUIRE(worker >= 0 && worker < pool.size());
      hits[static_cast<size_t>(t)]++;
    });
    for (auto& h : hits) BOOST_TEST(h.load() == 1);
  }
}

// --pin: each thread runs on its own core (checked where the process may use two cores).
BOOST_AUTO_TEST_CASE(pinned_thread_pool_binds_thread_i_to_core_i) {
  cpu_set_t allowed;
  BOOST_REQUIRE(sched_getaffinity(0, sizeof(allowed), &allowed) == 0);
  if (std::thread::hardware_concurrency() < 2 || !CPU_ISSET(0, &allowed) || !CPU_ISSET(1, &allowed)) {
    BOOST_TEST_MESSAGE("skipped: cores 0 and 1 are not both available");
    return;
  }
  std::array<std::atomic<int>, 2> core_of{-1, -1};
  std::thread caller([&] {
    cpu::ThreadPool pool(2, true);
    // Two tasks, each holding its thread until both have run (bounded): one per thread.
    pool.run(2, [&](int64_t, int worker) {
      cpu_set_t set;
      pthread_getaffinity_np(pthread_self(), sizeof(set), &set);
      const int core = CPU_COUNT(&set) != 1 ? -3 : CPU_ISSET(0, &set) ? 0 : CPU_ISSET(1, &set) ? 1 : -2;
      core_of[static_cast<size_t>(worker)] = core;
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while ((core_of[0] == -1 || core_of[1] == -1) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    });
  });
  caller.join();
  BOOST_TEST(core_of[0] == 0);
  BOOST_TEST(core_of[1] == 1);
}

BOOST_AUTO_TEST_CASE(avx2_matmul_matches_reference_for_every_dtype) {
  for (DType dt : {DType::F32, DType::BF16, DType::F16})
    for (int64_t m : kMs)
      for (int64_t k : kKs)
        for (int64_t n : kNs) {
          const auto w = make_weights(dt, n, k);
          const auto b = make_weights(dt, 1, n);
          const auto xf = random_floats(static_cast<size_t>(m * k));
          std::vector<double> x(xf.begin(), xf.end()), want, bound;
          reference_matmul(x, m, w, &b, want, bound);
          std::vector<float> y(static_cast<size_t>(m * n));
          cpu::MatmulArgs a{xf.data(), nullptr, m, k, w.view(), b.view(), y.data()};
          cpu::matmul_block_avx2(a, 0, n);
          check_close(y, want, bound, 1e-5);
        }
}

BOOST_AUTO_TEST_CASE(avx512_bf16_matmul_matches_reference_on_bf16_inputs) {
  if (!cpu::has_avx512_bf16()) {
    BOOST_TEST_MESSAGE("SKIPPED: this CPU has no AVX-512 BF16; the AVX2 path is tested above");
    return;
  }
  for (int64_t m : kMs)
    for (int64_t k : kKs)
      for (int64_t n : kNs) {
        const auto w = make_weights(DType::BF16, n, k);
        const auto xf = random_floats(static_cast<size_t>(m * k));
        // This path rounds x to bf16 (as a bf16 model does); the reference sees the same x.
        std::vector<uint16_t> xb(xf.size());
        cpu::round_to_bf16_avx512(xf.data(), static_cast<int64_t>(xf.size()), xb.data());
        std::vector<double> x, want, bound;
        for (size_t i = 0; i < xf.size(); ++i) {
          BOOST_REQUIRE_EQUAL(xb[i], math::f32_to_bf16(xf[i]));
          x.push_back(math::bf16_to_f32(xb[i]));
        }
        reference_matmul(x, m, w, nullptr, want, bound);
        std::vector<float> y(static_cast<size_t>(m * n));
        cpu::MatmulArgs a{xf.data(), xb.data(), m, k, w.view(), {}, y.data()};
        cpu::matmul_block_avx512_bf16(a, 0, n);
        check_close(y, want, bound, 1e-5);
      }
}

// Each element through the same conversion wherever it lies, subnormals flushed to zero as
// vdpbf16ps reads them: a row's bf16 copy does not depend on how many rows share the call.
BOOST_AUTO_TEST_CASE(avx512_bf16_rounding_does_not_depend_on_the_position) {
  if (!cpu::has_avx512_bf16()) {
    BOOST_TEST_MESSAGE("SKIPPED: this CPU has no AVX-512 BF16");
    return;
  }
  auto x = random_floats(71);
  for (size_t i = 0; i < x.size(); i += 3) x[i] = std::ldexp(x[i], -130);  // subnormal
  std::vector<uint16_t> all(x.size()), one(1);
  cpu::round_to_bf16_avx512(x.data(), static_cast<int64_t>(x.size()), all.data());
  for (size_t i = 0; i < x.size(); ++i) {
    cpu::round_to_bf16_avx512(&x[i], 1, one.data());
    BOOST_TEST_REQUIRE(all[i] == one[0], "element " << i);
    BOOST_TEST_REQUIRE(all[i] == (i % 3 == 0 ? (x[i] < 0 ? 0x8000 : 0) : math::f32_to_bf16(x[i])), "element " << i);
  }
}

// Batch invariance (matmul.h): a row's outputs have the same bits alone or with any other rows
// before and after it, in any tile or remainder strip, over any column split or thread count,
// including subnormal inputs. The backend covers the fastest path for each dtype, the direct
// calls the AVX2 path.
BOOST_AUTO_TEST_CASE(matmul_rows_are_batch_invariant) {
  const int64_t m = 9, n = 301;  // 3 rows x 301 columns x k >= 100 splits over several tasks
  auto one_thread = make_cpu_backend(1), three_threads = make_cpu_backend(3);
  for (DType dt : {DType::F32, DType::BF16, DType::F16})
    for (int64_t k : {7, 33, 100}) {
      const auto w = make_weights(dt, n, k);
      const auto b = make_weights(dt, 1, n);
      auto x = random_floats(static_cast<size_t>(m * k));
      for (size_t i = 0; i < x.size(); i += 5) x[i] = std::ldexp(x[i], -130);
      std::vector<float> alone(static_cast<size_t>(m * n)), alone_avx2(alone.size());
      for (int64_t i = 0; i < m; ++i) {
        one_thread->matmul(x.data() + i * k, 1, w.view(), b.view(), alone.data() + i * n);
        cpu::matmul_block_avx2({x.data() + i * k, nullptr, 1, k, w.view(), b.view(), alone_avx2.data() + i * n}, 0, n);
      }
      for (int64_t first = 0; first < m; ++first)
        for (int64_t rows = 1; first + rows <= m; ++rows) {
          std::vector<float> y(static_cast<size_t>(rows * n)), y_avx2(y.size());
          three_threads->matmul(x.data() + first * k, rows, w.view(), b.view(), y.data());
          const cpu::MatmulArgs a{x.data() + first * k, nullptr, rows, k, w.view(), b.view(), y_avx2.data()};
          cpu::matmul_block_avx2(a, 0, 13);  // a split that moves the 4-column tiles
          cpu::matmul_block_avx2(a, 13, n);
          BOOST_TEST_REQUIRE(same_bits(y, alone, first * n), "k " << k << ", rows " << first << "+" << rows);
          BOOST_TEST_REQUIRE(same_bits(y_avx2, alone_avx2, first * n), "k " << k << ", rows " << first << "+" << rows);
        }
    }
}

BOOST_AUTO_TEST_CASE(backend_matmul_splits_large_products_correctly) {
  auto be = make_cpu_backend(2);
  const int64_t m = 37, k = 129, n = 301;
  const auto w = make_weights(DType::F32, n, k);
  const auto xf = random_floats(static_cast<size_t>(m * k));
  std::vector<double> x(xf.begin(), xf.end()), want, bound;
  reference_matmul(x, m, w, nullptr, want, bound);
  std::vector<float> y(static_cast<size_t>(m * n));
  be->matmul(xf.data(), m, w.view(), {}, y.data());
  check_close(y, want, bound, 1e-5);
}

// A weight in the BF16Packed format (or, given, Q8/Q4), in 64-byte aligned memory as the kernels
// require.
struct PackedWeights {
  std::unique_ptr<uint16_t[], decltype(&std::free)> data{nullptr, &std::free};
  WeightView view;
  explicit PackedWeights(const WeightView& w, WeightFormat format = WeightFormat::BF16Packed) {
    const int64_t size = format == WeightFormat::BF16Packed ? cpu::packed_bf16_bytes(w.rows, w.cols)
                                                            : cpu::quantized_bytes(format, w.rows, w.cols);
    data.reset(static_cast<uint16_t*>(std::aligned_alloc(64, static_cast<size_t>((size + 63) / 64 * 64))));
    if (format == WeightFormat::BF16Packed) cpu::pack_bf16(w, data.get());
    else cpu::quantize_weight(w, format, data.get());
    view = {w.dtype, data.get(), w.rows, w.cols, format};
  }
};

BOOST_AUTO_TEST_CASE(packed_bf16_layout_interleaves_input_pairs_of_16_outputs) {
  // 10 panels (two groups, the second 2 wide, its last panel padded) and an odd last pair.
  const int64_t rows = 150, cols = 5, pairs = 3;
  const auto w = make_weights(DType::BF16, rows, cols);
  const PackedWeights p(w.view());
  BOOST_TEST(cpu::packed_bf16_bytes(rows, cols) == 10 * pairs * 64);
  BOOST_TEST(cpu::packed_bf16_panel(9, 10, pairs).offset == 8 * pairs * 32 + 32);
  BOOST_TEST(cpu::packed_bf16_panel(9, 10, pairs).pair_stride == 2 * 32);
  BOOST_TEST(cpu::packed_bf16_panel(3, 10, pairs).pair_stride == 8 * 32);
  for (int64_t panel = 0; panel < 10; ++panel) {
    const int64_t group = panel / 8, width = group == 0 ? 8 : 2;
    for (int64_t j = 0; j < pairs; ++j)
      for (int64_t c = 0; c < 16; ++c)
        for (int64_t e = 0; e < 2; ++e) {
          const int64_t r = panel * 16 + c, col = 2 * j + e;
          const uint16_t want = r < rows && col < cols ? w.half[static_cast<size_t>(r * cols + col)] : 0;
          const int64_t at = group * 8 * pairs * 32 + (j * width + panel % 8) * 32 + c * 2 + e;
          BOOST_TEST_REQUIRE(p.data[static_cast<size_t>(at)] == want);
        }
  }
}

// Both paths over the panels against the double reference: AVX2 reads x in float32, AVX-512
// BF16 rounds it to bf16 first (the reference sees the same x). f32 weights are rounded to
// bf16 by the packer.
BOOST_AUTO_TEST_CASE(packed_bf16_matmul_matches_reference_on_both_paths) {
  // 4 to 24 rows take AVX-512's chunked decode path over full panel groups (n = 150: one full
  // group and a narrow one; k = 1031: 516 pairs, a part chunk last); 25 and more AVX-512's prompt
  // path. On AVX2, 2 to 63 rows take the windowed tiles (k = 7, 100, 1031: a part window last)
  // and 64 and more the widened path (remainders of 2 to 5 rows), both prompt paths in input
  // blocks sized from the L2 (a short first one): 512, 1024 and 3000 span several blocks on any
  // L2 up to 1 MiB, 3000 at least three on AVX-512 with 1 MiB (partial sums kept between blocks).
  std::vector<int64_t> ks = kKs;
  ks.insert(ks.end(), {512, 1024, 1031, 3000});
  for (DType dt : {DType::BF16, DType::F32})
    for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 20, 21, 23, 64, 65, 69})
      for (int64_t k : ks)
        for (int64_t n : {1, 13, 16, 17, 67, 150}) {
          auto w = make_weights(dt, n, k);
          for (size_t i = 0; i < w.exact.size(); ++i) w.exact[i] = math::bf16_to_f32(math::f32_to_bf16(w.f32[i]));
          const auto b = make_weights(DType::F32, 1, n);
          const PackedWeights p(w.view());
          const int64_t panels = cpu::packed_bf16_panels(n);
          const auto xf = random_floats(static_cast<size_t>(m * k));
          std::vector<double> x(xf.begin(), xf.end()), want, bound;
          reference_matmul(x, m, w, &b, want, bound);
          std::vector<float> y(static_cast<size_t>(m * n));
          cpu::matmul_panels_avx2({xf.data(), nullptr, m, k, p.view, b.view(), y.data()}, 0, panels);
          check_close(y, want, bound, 1e-5);
          if (!cpu::has_avx512_bf16()) continue;
          const int64_t stride = 2 * cpu::packed_bf16_pairs(k);
          std::vector<uint16_t> xb(static_cast<size_t>(m * stride), 0);
          for (int64_t i = 0; i < m; ++i)
            for (int64_t t = 0; t < k; ++t) {
              xb[static_cast<size_t>(i * stride + t)] = math::f32_to_bf16(xf[static_cast<size_t>(i * k + t)]);
              x[static_cast<size_t>(i * k + t)] = math::bf16_to_f32(xb[static_cast<size_t>(i * stride + t)]);
            }
          reference_matmul(x, m, w, &b, want, bound);
          cpu::matmul_panels_avx512_bf16({xf.data(), xb.data(), m, k, p.view, b.view(), y.data()}, 0, panels);
          check_close(y, want, bound, 1e-5);
        }
  if (!cpu::has_avx512_bf16()) BOOST_TEST_MESSAGE("SKIPPED the AVX-512 BF16 path: this CPU has none");
}

// Batch invariance on the packed format: a row's outputs have the same bits alone or inside
// any block of rows (every tile height; on AVX2 the windowed tiles up to 19 rows and the widened
// path from 64), over any panel split and thread count, on both paths.
BOOST_AUTO_TEST_CASE(packed_bf16_matmul_rows_are_batch_invariant) {
  const int64_t m = 70, n = 301;
  auto one_thread = make_cpu_backend(1), three_threads = make_cpu_backend(3);
  for (int64_t k : {7, 100, 1031, 3000}) {  // 1031, 3000: the prompt paths over several input blocks
    const auto w = make_weights(DType::BF16, n, k);
    const auto b = make_weights(DType::F32, 1, n);
    const PackedWeights p(w.view());
    const int64_t panels = cpu::packed_bf16_panels(n);
    const auto x = random_floats(static_cast<size_t>(m * k));
    std::vector<float> alone(static_cast<size_t>(m * n)), alone_avx2(alone.size());
    for (int64_t i = 0; i < m; ++i) {
      one_thread->matmul(x.data() + i * k, 1, p.view, b.view(), alone.data() + i * n);
      cpu::matmul_panels_avx2({x.data() + i * k, nullptr, 1, k, p.view, b.view(), alone_avx2.data() + i * n}, 0, panels);
    }
    std::vector<std::pair<int64_t, int64_t>> blocks;  // (first row, rows)
    for (int64_t first = 0; first < 19; first += 2)
      for (int64_t rows = 1; first + rows <= 19; ++rows) blocks.emplace_back(first, rows);
    for (int64_t rows : {64, 65, 69}) blocks.emplace_back(m - rows, rows);
    for (const auto& [first, rows] : blocks) {
      std::vector<float> y(static_cast<size_t>(rows * n)), y_avx2(y.size());
      three_threads->matmul(x.data() + first * k, rows, p.view, b.view(), y.data());
      const cpu::MatmulArgs a{x.data() + first * k, nullptr, rows, k, p.view, b.view(), y_avx2.data()};
      cpu::matmul_panels_avx2(a, 0, 8);  // split at a panel group, as the tasks are
      cpu::matmul_panels_avx2(a, 8, panels);
      BOOST_TEST_REQUIRE(same_bits(y, alone, first * n), "k " << k << ", rows " << first << "+" << rows);
      BOOST_TEST_REQUIRE(same_bits(y_avx2, alone_avx2, first * n), "k " << k << ", rows " << first << "+" << rows);
    }
  }
}

// Backend::matmul_shared: several weights through one x (q/k/v, gate/up) in one job give every
// output the bits its own matmul gives, for every weight format, prompt and decode row counts, on
// odd shapes, however many rows are named decode rows (the CPU sums every row in one order); and
// x itself is left as it was.
BOOST_AUTO_TEST_CASE(every_output_has_the_bits_of_its_own_matmul) {
  auto be = make_cpu_backend(2);
  // k = 1031: an odd last input pair and a ragged last quantisation block; outputs of 1700, 150
  // and 13 columns: full and narrow panel groups, several column tasks (a decode row's long Q8/Q4
  // tasks of 512 KB included), a lone partial panel.
  const int64_t k = 1031;
  const int64_t ns[] = {1700, 150, 13};
  for (WeightFormat format : {WeightFormat::Plain, WeightFormat::BF16Packed, WeightFormat::Q8, WeightFormat::Q4}) {
    std::vector<TestWeights> plain;  // the views below point into these vectors, moved but not copied
    std::vector<std::unique_ptr<PackedWeights>> laid_out;
    std::vector<WeightView> weights;
    for (int64_t n : ns) {
      plain.push_back(make_weights(DType::BF16, n, k, 0.05f));
      if (format != WeightFormat::Plain) laid_out.push_back(std::make_unique<PackedWeights>(plain.back().view(), format));
      weights.push_back(format == WeightFormat::Plain ? plain.back().view() : laid_out.back()->view);
    }
    const auto bias = random_floats(150, 1.0f);
    for (int64_t m : {1, 5, 37}) {
      BOOST_TEST_CONTEXT("format " << static_cast<int>(format) << ", " << m << " rows") {
        const auto x = random_floats(static_cast<size_t>(m * k), 1.0f);
        const auto x_before = x;
        std::vector<std::vector<float>> alone, shared;
        std::vector<Backend::MatmulOutput> outputs;
        for (size_t i = 0; i < weights.size(); ++i) {
          const WeightView b = i == 1 ? WeightView{DType::F32, bias.data(), 1, 150} : WeightView{};
          alone.emplace_back(static_cast<size_t>(m * ns[i]));
          be->matmul(x.data(), m, weights[i], b, alone.back().data());
          shared.emplace_back(static_cast<size_t>(m * ns[i]), -1.0f);
          outputs.push_back({weights[i], b, nullptr});
        }
        for (size_t i = 0; i < shared.size(); ++i) outputs[i].y = shared[i].data();
        be->matmul_shared(x.data(), m, m / 2, outputs);
        for (size_t i = 0; i < shared.size(); ++i) BOOST_TEST(same_bits(shared[i], alone[i], 0), "output " << i);
        BOOST_TEST(same_bits(x, x_before, 0));
      }
    }
  }
}

// Weights of different formats cannot share x's rounding or quantisation: each still gets its own
// matmul's bits.
BOOST_AUTO_TEST_CASE(outputs_of_different_formats_each_get_their_own_matmul) {
  auto be = make_cpu_backend(2);
  const int64_t m = 3, k = 96;
  const auto q4_plain = make_weights(DType::BF16, 64, k, 0.05f), packed_plain = make_weights(DType::BF16, 40, k, 0.05f);
  const PackedWeights q4(q4_plain.view(), WeightFormat::Q4), packed(packed_plain.view());
  const auto x = random_floats(static_cast<size_t>(m * k), 1.0f);
  std::vector<float> alone_q4(m * 64), alone_packed(m * 40), shared_q4(m * 64), shared_packed(m * 40);
  be->matmul(x.data(), m, q4.view, {}, alone_q4.data());
  be->matmul(x.data(), m, packed.view, {}, alone_packed.data());
  const Backend::MatmulOutput outputs[] = {{q4.view, {}, shared_q4.data()}, {packed.view, {}, shared_packed.data()}};
  be->matmul_shared(x.data(), m, 0, outputs);
  BOOST_TEST(same_bits(shared_q4, alone_q4, 0));
  BOOST_TEST(same_bits(shared_packed, alone_packed, 0));
}

BOOST_AUTO_TEST_CASE(norms_match_reference) {
  auto be = make_cpu_backend(2);
  for (int64_t dim : {1, 5, 8, 16, 127}) {
    const int64_t rows = 7;
    const auto x = random_floats(static_cast<size_t>(rows * dim), 3.0f);
    const auto w = make_weights(DType::BF16, 1, dim);
    const auto b = make_weights(DType::F32, 1, dim);
    std::vector<float> rms(x.size()), ln(x.size());
    be->rms_norm(x.data(), rows, dim, w.view(), 1e-6f, rms.data());
    be->layer_norm(x.data(), rows, dim, w.view(), b.view(), 1e-6f, ln.data());
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0, mean = 0, var = 0;
      for (int64_t i = 0; i < dim; ++i) ss += double(x[r * dim + i]) * x[r * dim + i], mean += x[r * dim + i];
      mean /= dim;
      for (int64_t i = 0; i < dim; ++i) var += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
      for (int64_t i = 0; i < dim; ++i) {
        const double want_rms = x[r * dim + i] / std::sqrt(ss / dim + 1e-6) * w.exact[i];
        const double want_ln = (x[r * dim + i] - mean) / std::sqrt(var / dim + 1e-6) * w.exact[i] + b.exact[i];
        BOOST_TEST(std::abs(rms[r * dim + i] - want_rms) <= 1e-5 * (1 + std::abs(want_rms)));
        BOOST_TEST(std::abs(ln[r * dim + i] - want_ln) <= 1e-4 * (1 + std::abs(want_ln)));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(elementwise_ops_match_reference) {
  auto be = make_cpu_backend(2);
  const int64_t n = 40001;  // several tasks plus a ragged tail
  const auto a = random_floats(n, 4.0f), b = random_floats(n, 4.0f);
  auto silu = a, gt = a, ge = a, sum = a;
  be->silu_mul(silu.data(), b.data(), n);
  be->gelu_tanh(gt.data(), n);
  be->gelu_erf(ge.data(), n);
  be->add(sum.data(), b.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    const double x = a[i];
    const double want_silu = x / (1 + std::exp(-x)) * b[i];
    const double want_gt = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    const double want_ge = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    BOOST_TEST_REQUIRE(std::abs(silu[i] - want_silu) <= 1e-5 * (1 + std::abs(want_silu)));
    BOOST_TEST_REQUIRE(std::abs(gt[i] - want_gt) <= 1e-5 * (1 + std::abs(want_gt)));
    BOOST_TEST_REQUIRE(std::abs(ge[i] - want_ge) <= 1e-5 * (1 + std::abs(want_ge)));
    BOOST_TEST_REQUIRE(std::abs(sum[i] - (x + b[i])) <= 1e-6 * (1 + std::abs(x + b[i])));
  }
  // An element's GELU and SiLU bits do not depend on where it falls (vector body or ragged
  // tail): the same values one place later, and the last 5 alone, give the same bits.
  std::vector<float> shifted(a.size() + 1), shifted_up(a.size() + 1);
  std::copy(a.begin(), a.end(), shifted.begin() + 1);
  std::copy(b.begin(), b.end(), shifted_up.begin() + 1);
  auto shifted_silu = shifted;
  be->gelu_tanh(shifted.data(), n + 1);
  be->silu_mul(shifted_silu.data(), shifted_up.data(), n + 1);
  BOOST_TEST(std::equal(gt.begin(), gt.end(), shifted.begin() + 1));
  BOOST_TEST(std::equal(silu.begin(), silu.end(), shifted_silu.begin() + 1));
  std::vector<float> last(a.end() - 5, a.end()), last_silu = last;
  be->gelu_tanh(last.data(), 5);
  be->silu_mul(last_silu.data(), b.data() + n - 5, 5);
  BOOST_TEST(std::equal(last.begin(), last.end(), gt.end() - 5));
  BOOST_TEST(std::equal(last_silu.begin(), last_silu.end(), silu.end() - 5));
}

// SiLU's exponential saturates without overflow or NaN: e^-g for g far below zero is clamped to
// e^88 (the result, g / e^88, is as near zero as float allows), e^-g for g far above is 0 (the
// result g); a NaN stays NaN.
BOOST_AUTO_TEST_CASE(silu_mul_saturates_at_the_extremes) {
  auto be = make_cpu_backend(1);
  std::vector<float> g = {-1000.0f, -100.0f, -88.5f, -87.0f, -20.0f, 20.0f, 87.0f, 88.5f, 100.0f, 1000.0f,
                          std::numeric_limits<float>::quiet_NaN()};
  const std::vector<float> up(g.size(), 2.0f);
  const auto x = g;
  be->silu_mul(g.data(), up.data(), static_cast<int64_t>(g.size()));
  for (size_t i = 0; i + 1 < g.size(); ++i) {
    const double want = 2.0 * x[i] / (1 + std::exp(-double(x[i])));
    BOOST_TEST_INFO("g = " << x[i]);
    BOOST_TEST(std::isfinite(g[i]));
    BOOST_TEST(std::abs(g[i] - want) <= 1e-6 * std::abs(want) + 1e-33);
  }
  BOOST_TEST(std::isnan(g.back()));
}

BOOST_AUTO_TEST_CASE(rotary_and_embedding_match_reference) {
  auto be = make_cpu_backend(2);
  const int64_t rows = 5;
  const int heads = 3, head_dim = 10, half = head_dim / 2, stride = heads * head_dim + 4;  // padded rows
  const auto x0 = random_floats(static_cast<size_t>(rows * stride));
  std::vector<float> cos(rows * half), sin(rows * half);
  for (int64_t i = 0; i < rows * half; ++i) cos[i] = std::cos(0.3f * i), sin[i] = std::sin(0.3f * i);
  auto x = x0;
  be->rotary(x.data(), rows, stride, heads, head_dim, cos.data(), sin.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < head_dim; ++i) {
        const int64_t base = r * stride + h * head_dim;
        const int j = i % half;
        const double rot = i < half ? -double(x0[base + i + half]) : double(x0[base + i - half]);
        const double want = x0[base + i] * double(cos[r * half + j]) + rot * sin[r * half + j];
        BOOST_TEST(std::abs(x[base + i] - want) <= 1e-6 * (1 + std::abs(want)));
      }
  for (int64_t r = 0; r < rows; ++r)  // the 4 padding floats of each row are untouched
    for (int64_t i = heads * head_dim; i < stride; ++i) BOOST_TEST(x[r * stride + i] == x0[r * stride + i]);

  const auto table = make_weights(DType::F16, 11, 6);
  const std::vector<int32_t> ids{3, 0, 10, 3};
  std::vector<float> out(ids.size() * 6);
  be->embed(table.view(), ids, out.data());
  for (size_t r = 0; r < ids.size(); ++r)
    for (int i = 0; i < 6; ++i) BOOST_TEST(out[r * 6 + i] == table.exact[ids[r] * 6 + i]);
}

namespace {

// Naive softmax(q·Kᵀ·scale)·V for one head over rows [0, ctx) of dense k, v (the paged
// attention kernel has its own suite, test_paged_attention).
std::vector<double> naive_attention(const float* q, const std::vector<std::vector<float>>& k,
                                    const std::vector<std::vector<float>>& v, int64_t ctx, int head_dim, double scale) {
  std::vector<double> s(static_cast<size_t>(ctx)), out(static_cast<size_t>(head_dim), 0.0);
  double mx = -1e300, sum = 0;
  for (int64_t t = 0; t < ctx; ++t) {
    double d = 0;
    for (int i = 0; i < head_dim; ++i) d += double(q[i]) * k[t][i];
    s[t] = d * scale;
    mx = std::max(mx, s[t]);
  }
  for (auto& e : s) sum += (e = std::exp(e - mx));
  for (int64_t t = 0; t < ctx; ++t)
    for (int i = 0; i < head_dim; ++i) out[i] += s[t] / sum * v[t][i];
  return out;
}

}  // namespace

// Segments shorter and longer than one query block and KV tile (64 rows), a head size that is
// not a multiple of the vector width and the vision encoder's (64), and the queries in one call
// or split.
BOOST_AUTO_TEST_CASE(segment_attention_is_full_within_each_segment_only) {
  auto be = make_cpu_backend(2);
  const int heads = 3;
  for (const int head_dim : {12, 64}) {
    const int64_t stride = 3 * heads * head_dim;  // q, k, v interleaved per row as the vision qkv output is
    const std::vector<int64_t> bounds{0, 5, 6, 13, 163};
    const int64_t rows = bounds.back();
    const auto qkv = random_floats(static_cast<size_t>(rows * stride));
    std::vector<float> out(static_cast<size_t>(rows * heads * head_dim));
    const double scale = 1 / std::sqrt(double(head_dim));
    be->prepare_segment_attention(qkv.data() + heads * head_dim, qkv.data() + 2 * heads * head_dim, stride, heads,
                                  head_dim, bounds);
    be->segment_attention(qkv.data(), stride, static_cast<float>(scale), 0, rows, out.data(), heads * head_dim);
    // The queries split at odd rows (across segments and chunks) give the same bits.
    std::vector<float> split(out.size(), 0.0f);
    for (int64_t r0 = 0; r0 < rows; r0 += 37)
      be->segment_attention(qkv.data(), stride, static_cast<float>(scale), r0, std::min(rows, r0 + 37), split.data(),
                            heads * head_dim);
    BOOST_TEST(split == out);
    // AVX2's 8-lane kernels give the very same bits as the widest (AVX-512's 16 lanes here).
    cpu::ThreadPool pool(2);
    cpu::SegmentScratch scratch;
    cpu::pack_segments(pool, scratch, qkv.data() + heads * head_dim, qkv.data() + 2 * heads * head_dim, stride, heads,
                       head_dim, bounds);
    std::vector<float> narrow(out.size(), 0.0f);
    cpu::segment_attention(pool, scratch, qkv.data(), stride, static_cast<float>(scale), 0, rows, narrow.data(),
                           heads * head_dim, cpu::AttentionLanes::Avx2);
    BOOST_TEST(narrow == out);
    for (size_t s = 0; s + 1 < bounds.size(); ++s)
      for (int h = 0; h < heads; ++h) {
        std::vector<std::vector<float>> k, v;
        for (int64_t t = bounds[s]; t < bounds[s + 1]; ++t) {
          const float* base = qkv.data() + t * stride + h * head_dim;
          k.emplace_back(base + heads * head_dim, base + heads * head_dim + head_dim);
          v.emplace_back(base + 2 * heads * head_dim, base + 2 * heads * head_dim + head_dim);
        }
        for (int64_t r = bounds[s]; r < bounds[s + 1]; ++r) {
          const auto want = naive_attention(qkv.data() + r * stride + h * head_dim, k, v, bounds[s + 1] - bounds[s],
                                            head_dim, scale);
          for (int d = 0; d < head_dim; ++d)
            BOOST_TEST(std::abs(out[(r * heads + h) * head_dim + d] - want[d]) <= 1e-5);
        }
      }
  }
}
