// The CUDA backend on a device against the CPU backend, on random shapes including odd sizes.
// Without a usable device every case is skipped and the run prints one line saying why.
// Tolerances: the row kernels sum in another order than the CPU's (a 256-way tree against 8- or
// 16-lane vectors): 2e-5 * (1 + |cpu|), as in test_cuda_kernel_math; activations: the device's
// expf/tanhf/erff are within 2 ulp, the CPU's within 1: 1e-6 * (1 + |x|); rotary, add and embed
// are the same few correctly rounded operations on both: 1e-6 * (1 + |cpu|) allows a fused
// multiply-add on either side.
#define BOOST_TEST_MODULE cuda_backend
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <memory>
#include <new>
#include <random>
#include <vector>

#include "gpu/backend_error.h"
#include "gpu/cuda/cuda_backend.h"
#include "tests/gpu/cuda_backend_fixture.h"
#include "gpu/kernel_math.h"

using namespace pio;

namespace {

using pio::testing::has_cuda_backend;

Backend& cuda() { return *pio::testing::cuda_test_backend().cuda; }

std::mt19937 rng(77);

std::vector<float> random_floats(size_t n, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A device copy of host floats, freed with the backend's release.
struct DeviceBuffer {
  Backend& b;
  void* p;
  size_t bytes;
  DeviceBuffer(Backend& backend, const void* host, size_t n) : b(backend), p(backend.allocate(n)), bytes(n) {
    if (host != nullptr) b.upload(p, host, n);
  }
  DeviceBuffer(Backend& backend, const std::vector<float>& host)
      : DeviceBuffer(backend, host.data(), host.size() * sizeof(float)) {}
  ~DeviceBuffer() { b.release(p); }
  float* f() const { return static_cast<float*>(p); }
  std::vector<float> download() const {
    std::vector<float> out(bytes / sizeof(float));
    b.download(out.data(), p, bytes);
    return out;
  }
};

void check_close(const std::vector<float>& got, const std::vector<float>& want, double rel) {
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i)
    BOOST_TEST(std::abs(static_cast<double>(got[i]) - want[i]) <= rel * (1.0 + std::abs(want[i])),
               "element " << i << ": " << got[i] << " vs " << want[i]);
}

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> out;
  for (float x : v) out.push_back(math::f32_to_bf16(x));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(allocate_gives_zeroed_aligned_memory, *boost::unit_test::precondition(has_cuda_backend)) {
  Backend& b = cuda();
  for (const size_t bytes : {size_t{1}, size_t{1000}, size_t{1} << 20}) {
    void* p = b.allocate(bytes);
    BOOST_TEST(reinterpret_cast<uintptr_t>(p) % 256 == 0u);
    std::vector<uint8_t> host(bytes, 0xff);
    b.download(host.data(), p, bytes);
    BOOST_TEST(std::all_of(host.begin(), host.end(), [](uint8_t v) { return v == 0; }));
    b.release(p);
  }
  BOOST_CHECK_THROW(b.allocate(size_t{1} << 50), std::bad_alloc);
  // The CPU's packed bf16 panels are not a device layout.
  BOOST_CHECK_THROW(b.matmul(nullptr, 1, WeightView{DType::BF16, &b, 8, 8, WeightFormat::BF16Packed}, WeightView{},
                             nullptr),
                    BackendError);
}

// A matmul whose scratch cannot be had (a Q8 workspace of terabytes: m rows of its quantised x)
// fails alone, before any launch. The runtime also keeps that out-of-memory as the thread's last
// error, which every later launch checks: it must not fail the next, unrelated operation.
BOOST_AUTO_TEST_CASE(a_failed_scratch_allocation_fails_only_its_call, *boost::unit_test::precondition(has_cuda_backend)) {
  Backend& b = cuda();
  const std::vector<float> x{1.0f, 2.0f, 3.0f}, y{0.5f, 0.25f, -1.0f};
  DeviceBuffer dx(b, x), dy(b, y), dw(b, nullptr, 4096);
  BOOST_CHECK_THROW(b.matmul(dx.f(), int64_t{1} << 36, WeightView{DType::BF16, dw.p, 16, 32, WeightFormat::Q8},
                             WeightView{}, dy.f()),
                    BackendError);
  BOOST_CHECK_NO_THROW(b.add(dx.f(), dy.f(), 3));
  BOOST_CHECK_NO_THROW(b.synchronize());
  const std::vector<float> sum = dx.download();
  BOOST_TEST(sum == (std::vector<float>{1.5f, 2.25f, 2.0f}), boost::test_tools::per_element());
}

// Decode rows (the GEMV) and a prefill chunk (cuBLAS, x rounded to bf16) of a bf16 weight with an
// odd shape and a bias. Tolerance: 8e-3 of the sum of |x·w| terms, four times the rounding of x
// to bf16 (2^-9 relative per product) that either side may apply; the GEMV alone is far closer.
BOOST_AUTO_TEST_CASE(matmul_matches_the_cpu_backend, *boost::unit_test::precondition(has_cuda_backend)) {
  Backend& gpu = cuda();
  const auto cpu = make_cpu_backend(1);
  const int64_t n = 77, k = 129;
  const auto w = to_bf16(random_floats(static_cast<size_t>(n * k), 0.5f));
  const auto bias = random_floats(static_cast<size_t>(n), 1.0f);
  DeviceBuffer dw(gpu, w.data(), w.size() * 2), db(gpu, bias);
  for (const int64_t m : {int64_t{1}, int64_t{5}, int64_t{16}, int64_t{40}}) {
    const auto x = random_floats(static_cast<size_t>(m * k), 1.0f);
    DeviceBuffer dx(gpu, x), dy(gpu, nullptr, static_cast<size_t>(m * n) * sizeof(float));
    std::vector<float> want(static_cast<size_t>(m * n));
    cpu->matmul(x.data(), m, WeightView{DType::BF16, w.data(), n, k}, WeightView{DType::F32, bias.data(), 1, n},
                want.data());
    gpu.matmul(dx.f(), m, WeightView{DType::BF16, dw.p, n, k}, WeightView{DType::F32, db.p, 1, n}, dy.f());
    const auto got = dy.download();
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) {
        double magnitude = std::abs(bias[c]);
        for (int64_t i = 0; i < k; ++i)
          magnitude += std::abs(x[r * k + i] * math::bf16_to_f32(w[c * k + i]));
        BOOST_TEST(std::abs(got[r * n + c] - want[r * n + c]) <= 8e-3 * magnitude, "m " << m << " row " << r << " col " << c);
      }
  }
}

BOOST_AUTO_TEST_CASE(row_and_pointwise_ops_match_the_cpu_backend, *boost::unit_test::precondition(has_cuda_backend)) {
  Backend& gpu = cuda();
  const auto cpu = make_cpu_backend(1);
  for (const int64_t dim : {int64_t{1}, int64_t{257}, int64_t{2048}, int64_t{3001}}) {
    const int64_t rows = 3;
    const auto x = random_floats(static_cast<size_t>(rows * dim), 2.0f);
    const auto w = to_bf16(random_floats(static_cast<size_t>(dim), 1.0f));
    const auto bias = random_floats(static_cast<size_t>(dim), 1.0f);
    const WeightView hw{DType::BF16, w.data(), 1, dim}, hb{DType::F32, bias.data(), 1, dim};
    DeviceBuffer dx(gpu, x), dy(gpu, nullptr, x.size() * sizeof(float)), dw(gpu, w.data(), w.size() * 2),
        db(gpu, bias);
    const WeightView gw{DType::BF16, dw.p, 1, dim}, gb{DType::F32, db.p, 1, dim};
    std::vector<float> want(x.size());
    cpu->rms_norm(x.data(), rows, dim, hw, 1e-6f, want.data());
    gpu.rms_norm(dx.f(), rows, dim, gw, 1e-6f, dy.f());
    check_close(dy.download(), want, 2e-5);
    cpu->layer_norm(x.data(), rows, dim, hw, hb, 1e-6f, want.data());
    gpu.layer_norm(dx.f(), rows, dim, gw, gb, 1e-6f, dy.f());
    check_close(dy.download(), want, 2e-5);

    const int64_t n = rows * dim;
    const auto up = random_floats(static_cast<size_t>(n), 1.0f);
    DeviceBuffer dup(gpu, up);
    auto host = x;
    cpu->silu_mul(host.data(), up.data(), n);
    gpu.silu_mul(dx.f(), dup.f(), n);
    check_close(dx.download(), host, 1e-6);
    cpu->gelu_tanh(host.data(), n);
    gpu.gelu_tanh(dx.f(), n);
    check_close(dx.download(), host, 1e-6);
    cpu->gelu_erf(host.data(), n);
    gpu.gelu_erf(dx.f(), n);
    check_close(dx.download(), host, 1e-6);
    cpu->add(host.data(), up.data(), n);
    gpu.add(dx.f(), dup.f(), n);
    check_close(dx.download(), host, 1e-6);
  }
}

BOOST_AUTO_TEST_CASE(rotary_and_embed_match_the_cpu_backend, *boost::unit_test::precondition(has_cuda_backend)) {
  Backend& gpu = cuda();
  const auto cpu = make_cpu_backend(1);
  const int64_t rows = 5, heads = 3, head_dim = 80, stride = heads * head_dim + 7, half = head_dim / 2;
  auto x = random_floats(static_cast<size_t>(rows * stride), 1.0f);
  const auto angles = random_floats(static_cast<size_t>(rows * half), 3.0f);
  std::vector<float> cos, sin;
  for (float a : angles) cos.push_back(std::cos(a)), sin.push_back(std::sin(a));
  DeviceBuffer dx(gpu, x), dc(gpu, cos), ds(gpu, sin);
  cpu->rotary(x.data(), rows, stride, heads, head_dim, cos.data(), sin.data());
  gpu.rotary(dx.f(), rows, stride, heads, head_dim, dc.f(), ds.f());
  check_close(dx.download(), x, 1e-6);

  const int64_t vocab = 37, cols = 131;
  const auto table = to_bf16(random_floats(static_cast<size_t>(vocab * cols), 1.0f));
  const std::vector<int32_t> ids = {3, 36, 0, 3, 17};
  DeviceBuffer dt(gpu, table.data(), table.size() * 2), dout(gpu, nullptr, ids.size() * cols * sizeof(float));
  std::vector<float> want(ids.size() * cols);
  cpu->embed(WeightView{DType::BF16, table.data(), vocab, cols}, ids, want.data());
  gpu.embed(WeightView{DType::BF16, dt.p, vocab, cols}, ids, dout.f());
  check_close(dout.download(), want, 0.0);
}
