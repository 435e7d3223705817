// The CUDA matmul launchers (gpu/cuda/matmul.h) on a device: the GEMV, Q8/Q4 GEMV and
// deterministic GEMM equal their CPU emulation (tests/gpu/cuda_matmul_emulation.h, itself checked
// against double references by test_cuda_gemv_math) bit for bit, which also proves their batch
// invariance on the device; cuBLAS prefill is within the float32 summation bound of a double
// reference. Without a usable device every case is skipped and one line says why.
#define BOOST_TEST_MODULE cuda_matmul_device
#include <boost/test/unit_test.hpp>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "gpu/cuda/matmul.h"
#include "tests/gpu/cuda_matmul_emulation.h"

using namespace pio;
using namespace pio::test;

namespace {

// Empty when a CUDA device is usable, else why not.
struct DeviceCheck {
  DeviceCheck() {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) reason() = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    else if (count == 0) reason() = "no CUDA device";
    if (!reason().empty()) std::cout << "test_cuda_matmul_device: skipped, " << reason() << "\n";
  }
  static std::string& reason() {
    static std::string r;
    return r;
  }
};
BOOST_TEST_GLOBAL_FIXTURE(DeviceCheck);

boost::test_tools::assertion_result has_device(boost::unit_test::test_unit_id) { return DeviceCheck::reason().empty(); }

void check(cudaError_t e) { BOOST_REQUIRE_MESSAGE(e == cudaSuccess, cudaGetErrorString(e)); }

// A device copy of a host vector (or `count` uninitialised elements).
template <class T>
struct DeviceBuffer {
  T* p = nullptr;
  size_t count = 0;
  explicit DeviceBuffer(size_t n) : count(n) {
    check(cudaMalloc(reinterpret_cast<void**>(&p), std::max<size_t>(n, 1) * sizeof(T)));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    check(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(p); }
  std::vector<T> download() const {
    std::vector<T> out(count);
    check(cudaMemcpy(out.data(), p, count * sizeof(T), cudaMemcpyDeviceToHost));
    return out;
  }
};

std::mt19937 rng(99);

std::vector<float> random_floats(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

bool same_bits(const std::vector<float>& a, const float* b, size_t count) {
  return std::memcmp(a.data(), b, count * sizeof(float)) == 0;
}

// Waits for the stream and checks both the launch and the kernels.
void finish_launch() {
  check(cudaGetLastError());
  check(cudaDeviceSynchronize());
}

struct Shape {
  int64_t m, n, k;
};
// Odd sizes, k below / at / past one 256-column step, unaligned rows (k % 8 != 0), two row passes.
const Shape kShapes[] = {{1, 37, 300}, {7, 64, 2048}, {16, 33, 1031}, {23, 20, 256}, {5, 3, 7}};

template <DType T>
void check_dense_gemv(const Shape& s) {
  const Dense w = dense_weight(T, random_floats(static_cast<size_t>(s.n * s.k), 0.05f));
  const auto x = random_floats(static_cast<size_t>(s.m * s.k));
  const auto bias = random_floats(static_cast<size_t>(s.n));
  DeviceBuffer<float> dx(x), dbias(bias), dy(static_cast<size_t>(s.m * s.n));
  DeviceBuffer<float> dw32(w.values);
  DeviceBuffer<uint16_t> dw16(w.half);
  const void* dw = T == DType::F32 ? static_cast<const void*>(dw32.p) : dw16.p;
  cuda::launch_gemv_dense(nullptr, dx.p, s.m, dw, T, s.n, s.k, dbias.p, dy.p);
  finish_launch();
  const auto expect = run_gemv_dense<T>(x, s.m, w.data(), s.n, s.k, bias.data());
  BOOST_TEST(same_bits(expect, dy.download().data(), expect.size()), "m " << s.m << " n " << s.n << " k " << s.k);
  cuda::launch_gemm_deterministic(nullptr, dx.p, s.m, dw, T, s.n, s.k, dbias.p, dy.p);
  finish_launch();
  BOOST_TEST(same_bits(expect, dy.download().data(), expect.size()), "tiled m " << s.m << " n " << s.n << " k " << s.k);
}

}  // namespace

BOOST_AUTO_TEST_CASE(dense_gemv_and_tiled_gemm_equal_the_cpu_emulation, *boost::unit_test::precondition(has_device)) {
  for (const Shape& s : kShapes) {
    check_dense_gemv<DType::BF16>(s);
    check_dense_gemv<DType::F16>(s);
    check_dense_gemv<DType::F32>(s);
  }
}

BOOST_AUTO_TEST_CASE(quant_gemv_equals_the_cpu_emulation, *boost::unit_test::precondition(has_device)) {
  for (const WeightFormat f : {WeightFormat::Q8, WeightFormat::Q4}) {
    for (const Shape& s : kShapes) {
      const Quantized w = quantize(f, random_floats(static_cast<size_t>(s.n * s.k), 0.05f), s.n, s.k);
      const auto x = random_floats(static_cast<size_t>(s.m * s.k));
      const auto bias = random_floats(static_cast<size_t>(s.n));
      const auto bytes = static_cast<size_t>(cpu::quantized_bytes(f, s.n, s.k));
      DeviceBuffer<uint8_t> dw(bytes);
      check(cudaMemcpy(dw.p, w.bytes.get(), bytes, cudaMemcpyHostToDevice));
      DeviceBuffer<float> dx(x), dbias(bias), dy(static_cast<size_t>(s.m * s.n));
      DeviceBuffer<uint8_t> work(static_cast<size_t>(cuda::quant_workspace_bytes(s.m, s.k)));
      cuda::launch_gemv_quant(nullptr, dx.p, s.m, dw.p, f, s.n, s.k, dbias.p, work.p, dy.p);
      finish_launch();
      // The workspace holds x quantised as the CPU quantises it.
      cpu::QuantizedRows cpu_rows;
      cpu::quantize_rows(x.data(), s.m, s.k, cpu_rows);
      const auto ws = work.download();
      const size_t blocks = static_cast<size_t>(s.m * cpu_rows.blocks);
      BOOST_TEST(std::memcmp(ws.data(), cpu_rows.q.data(), blocks * kQBlock) == 0);
      BOOST_TEST(std::memcmp(ws.data() + blocks * kQBlock, cpu_rows.d.data(), blocks * sizeof(float)) == 0);
      const auto expect = run_gemv_quant(f == WeightFormat::Q4, run_quantize_rows(x, s.m, s.k), s.m, w.bytes.get(),
                                         s.n, s.k, bias.data());
      BOOST_TEST(same_bits(expect, dy.download().data(), expect.size()),
                 (f == WeightFormat::Q4 ? "Q4" : "Q8") << " m " << s.m << " n " << s.n << " k " << s.k);
      // The dense copy for cuBLAS prefill: the CPU dequantiser's values.
      DeviceBuffer<float> dense(static_cast<size_t>(s.n * s.k));
      cuda::launch_dequantize_weight(nullptr, dw.p, f, s.n, s.k, DType::F32, dense.p);
      finish_launch();
      BOOST_TEST(same_bits(w.values, dense.download().data(), w.values.size()));
    }
  }
}

// cuBLAS sums in an order of its choosing: any order of k float32 additions of exact products
// (bf16 x bf16 and f16 x f16 products are exact in float32) is within k · 2^-24 · Σ|t| of the
// exact sum; the bound is stated with a factor 2 margin.
BOOST_AUTO_TEST_CASE(cublas_prefill_within_the_summation_bound, *boost::unit_test::precondition(has_device)) {
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0));
  const DType dtype = cuda::dense_weight_dtype(prop.major);
  cublasHandle_t handle = nullptr;
  BOOST_REQUIRE(cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS);
  for (const Shape s : {Shape{1, 37, 300}, Shape{77, 64, 2048}, Shape{130, 33, 1031}}) {
    const Dense w = dense_weight(DType::BF16, random_floats(static_cast<size_t>(s.n * s.k), 0.05f));
    const auto x = random_floats(static_cast<size_t>(s.m * s.k));
    const auto bias = random_floats(static_cast<size_t>(s.n));
    DeviceBuffer<uint16_t> dsrc(w.half);
    const size_t elem = dtype == DType::F32 ? 4 : 2;
    DeviceBuffer<uint8_t> dw(w.half.size() * elem);
    cuda::launch_convert_bf16_weights(nullptr, dsrc.p, dw.p, static_cast<int64_t>(w.half.size()), dtype);
    DeviceBuffer<float> dx(x), dbias(bias), dy(static_cast<size_t>(s.m * s.n));
    DeviceBuffer<uint8_t> work(static_cast<size_t>(cuda::cublas_workspace_bytes(s.m, s.k, dtype)));
    BOOST_REQUIRE(cuda::gemm_cublas(nullptr, handle, dx.p, s.m, dw.p, dtype, s.n, s.k, dbias.p, work.p, dy.p) ==
                  CUBLAS_STATUS_SUCCESS);
    finish_launch();
    const auto y = dy.download();
    for (int64_t i = 0; i < s.m; ++i) {
      for (int64_t j = 0; j < s.n; ++j) {
        double ref = bias[j], mag = std::fabs(bias[j]);
        for (int64_t c = 0; c < s.k; ++c) {
          const float xv = x[i * s.k + c];
          const float xr = dtype == DType::F32 ? xv : (dtype == DType::BF16 ? math::bf16_to_f32(math::f32_to_bf16(xv))
                                                                          : math::f16_to_f32(math::f32_to_f16(xv)));
          const uint16_t wc = cuda_math::convert_bf16_weight(w.half[j * s.k + c], dtype);
          const float wv = dtype == DType::F16 ? math::f16_to_f32(wc) : math::bf16_to_f32(w.half[j * s.k + c]);
          const double t = static_cast<double>(xr) * wv;
          ref += t;
          mag += std::fabs(t);
        }
        const double tol = 2.0 * static_cast<double>(s.k + 1) / (1 << 24) * mag + 1e-30;
        BOOST_TEST_REQUIRE(std::fabs(y[i * s.n + j] - ref) <= tol, "y[" << i << "," << j << "] " << y[i * s.n + j]
                                                                        << " vs " << ref);
      }
    }
  }
  cublasDestroy(handle);
}

// k = 0 (an empty sum): cuBLAS refuses it, so gemm_cublas writes the bias itself; y held stale
// values before, and every dtype's path gives exactly the bias.
BOOST_AUTO_TEST_CASE(cublas_prefill_of_no_inputs_is_the_bias, *boost::unit_test::precondition(has_device)) {
  const int64_t m = 20, n = 300;
  const auto bias = random_floats(static_cast<size_t>(n));
  cublasHandle_t handle = nullptr;
  BOOST_REQUIRE(cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS);
  for (const DType dtype : {DType::F32, DType::BF16, DType::F16}) {
    DeviceBuffer<float> dbias(bias), dy(std::vector<float>(static_cast<size_t>(m * n), 7.0f));
    DeviceBuffer<uint8_t> work(static_cast<size_t>(cuda::cublas_workspace_bytes(m, 0, dtype)));
    DeviceBuffer<uint16_t> dw(1);
    BOOST_REQUIRE(cuda::gemm_cublas(nullptr, handle, nullptr, m, dw.p, dtype, n, 0, dbias.p, work.p, dy.p) ==
                  CUBLAS_STATUS_SUCCESS);
    finish_launch();
    const auto y = dy.download();
    for (int64_t i = 0; i < m * n; ++i) BOOST_TEST_REQUIRE(y[i] == bias[i % n], "y[" << i << "] " << y[i]);
  }
  cublasDestroy(handle);
}

// F16 weights through cuBLAS with a row past f16's range (a decoder's outlier activations): the
// row is scaled by a power of two around the GEMM (activation_scale_math.h), so its outputs are
// finite and within the summation bound above plus f16's rounding of each term (2^-11) of the
// double product of the unrounded x.
BOOST_AUTO_TEST_CASE(cublas_f16_prefill_keeps_an_outlier_row_finite, *boost::unit_test::precondition(has_device)) {
  const Shape s{3, 40, 1031};
  const Dense w = dense_weight(DType::F16, random_floats(static_cast<size_t>(s.n * s.k), 0.05f));
  auto x = random_floats(static_cast<size_t>(s.m * s.k));
  x[static_cast<size_t>(s.k + 17)] = 3.0e5f;
  x[static_cast<size_t>(s.k + 900)] = -1.0e5f;
  cublasHandle_t handle = nullptr;
  BOOST_REQUIRE(cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS);
  DeviceBuffer<uint16_t> dw(w.half);
  DeviceBuffer<float> dx(x), dy(static_cast<size_t>(s.m * s.n));
  DeviceBuffer<uint8_t> work(static_cast<size_t>(cuda::cublas_workspace_bytes(s.m, s.k, DType::F16)));
  BOOST_REQUIRE(cuda::gemm_cublas(nullptr, handle, dx.p, s.m, dw.p, DType::F16, s.n, s.k, nullptr, work.p, dy.p) ==
                CUBLAS_STATUS_SUCCESS);
  finish_launch();
  const auto y = dy.download();
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = 0; j < s.n; ++j) {
      double ref = 0, mag = 0;
      for (int64_t c = 0; c < s.k; ++c) {
        const double t = static_cast<double>(x[i * s.k + c]) * w.values[j * s.k + c];
        ref += t;
        mag += std::fabs(t);
      }
      const double tol = 2.0 * (static_cast<double>(s.k + 1) / (1 << 24) + 1.0 / 2048) * mag;
      BOOST_TEST_REQUIRE(std::fabs(y[i * s.n + j] - ref) <= tol, "y[" << i << "," << j << "] " << y[i * s.n + j]
                                                                      << " vs " << ref);
    }
  cublasDestroy(handle);
}
