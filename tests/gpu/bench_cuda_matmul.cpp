// bench_cuda_matmul [reps]: times the CUDA matmul launchers (gpu/cuda/matmul.h) on the text
// shapes of Qwen3-VL-2B and prints, per weight format, the decode GEMV's weight bandwidth for 1, 4
// and 16 rows, the matmul-only decode bound in tokens/s (28 layers + lm_head, one row), and
// prefill (512 rows) through cuBLAS and through the deterministic tiled GEMM with the latter's
// cost. Weights hold a constant byte pattern (the timings do not depend on the values). Exits 1
// with one line when no device is usable.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "gpu/cpu/quant.h"
#include "gpu/cuda/matmul.h"

using namespace pio;

namespace {

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  std::fprintf(stderr, "bench_cuda_matmul: %s: %s\n", what, cudaGetErrorString(e));
  std::exit(1);
}

struct Matrix {
  const char* name;
  int64_t n, k, per_token;  // per_token: how many a decode step multiplies by (28 layers, or 1)
};
// Qwen3-VL-2B text: hidden 2048, 16 query and 8 KV heads of 128, MLP 6144, vocabulary 151936.
const Matrix kMatrices[] = {{"q_proj", 2048, 2048, 28},  {"k_proj/v_proj", 1024, 2048, 56},
                            {"o_proj", 2048, 2048, 28},  {"gate/up", 6144, 2048, 56},
                            {"down", 2048, 6144, 28},    {"lm_head", 151936, 2048, 1}};

void* device_alloc(size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes), "cudaMalloc");
  check(cudaMemset(p, 0x3c, bytes), "cudaMemset");  // bf16 0x3c3c ≈ 0.0115, f16 scales ≈ 1.06
  return p;
}

// Milliseconds per call of f, the median of reps timed calls after one warm-up.
template <class F>
double time_ms(int reps, F&& f) {
  cudaEvent_t a, b;
  check(cudaEventCreate(&a), "event");
  check(cudaEventCreate(&b), "event");
  f();
  std::vector<float> ms(static_cast<size_t>(reps));
  for (auto& t : ms) {
    check(cudaEventRecord(a), "record");
    f();
    check(cudaEventRecord(b), "record");
    check(cudaEventSynchronize(b), "sync");
    check(cudaGetLastError(), "launch");
    check(cudaEventElapsedTime(&t, a, b), "elapsed");
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 50;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::fprintf(stderr, "bench_cuda_matmul: no usable CUDA device\n");
    return 1;
  }
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "properties");
  const DType dense = cuda::dense_weight_dtype(prop.major);
  std::printf("device: %s (SM%d%d), dense weights %s, median of %d\n", prop.name, prop.major, prop.minor,
              dense == DType::BF16 ? "bf16" : dense == DType::F16 ? "f16" : "f32", reps);
  cublasHandle_t handle = nullptr;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return 1;
  const int64_t kPrefill = 512;
  auto* x = static_cast<float*>(device_alloc(kPrefill * 6144 * sizeof(float)));
  auto* y = static_cast<float*>(device_alloc(kPrefill * 151936 * sizeof(float)));
  void* work = device_alloc(static_cast<size_t>(cuda::quant_workspace_bytes(kPrefill, 6144)) + kPrefill * 6144 * 2);
  check(cudaMemset(x, 0, kPrefill * 6144 * sizeof(float)), "cudaMemset");

  const char* formats[] = {"dense", "q8", "q4"};
  for (int f = 0; f < 3; ++f) {
    double step_ms = 0.0;
    for (const Matrix& mat : kMatrices) {
      const WeightFormat wf = f == 0 ? WeightFormat::Plain : f == 1 ? WeightFormat::Q8 : WeightFormat::Q4;
      const size_t bytes = f == 0 ? static_cast<size_t>(mat.n * mat.k) * (dense == DType::F32 ? 4 : 2)
                                  : static_cast<size_t>(cpu::quantized_bytes(wf, mat.n, mat.k));
      void* w = device_alloc(bytes);
      for (const int64_t m : {int64_t{1}, int64_t{4}, int64_t{16}}) {
        const double ms = time_ms(reps, [&] {
          if (f == 0) cuda::launch_gemv_dense(nullptr, x, m, w, dense, mat.n, mat.k, nullptr, y);
          else cuda::launch_gemv_quant(nullptr, x, m, w, wf, mat.n, mat.k, nullptr, work, y);
        });
        if (m == 1) step_ms += ms * static_cast<double>(mat.per_token);
        std::printf("%-5s %-14s m=%-3ld %9.1f us  %7.1f GB/s\n", formats[f], mat.name, static_cast<long>(m),
                    ms * 1e3, static_cast<double>(bytes) / (ms * 1e6));
      }
      if (f == 0 && mat.n < 100000) {
        const double flop = 2.0 * kPrefill * static_cast<double>(mat.n * mat.k);
        const double blas = time_ms(reps, [&] {
          cuda::gemm_cublas(nullptr, handle, x, kPrefill, w, dense, mat.n, mat.k, nullptr, work, y);
        });
        const double det = time_ms(reps, [&] {
          cuda::launch_gemm_deterministic(nullptr, x, kPrefill, w, dense, mat.n, mat.k, nullptr, y);
        });
        std::printf("prefill %-14s m=%ld  cuBLAS %8.1f us %6.1f TFLOP/s | deterministic %8.1f us %6.1f TFLOP/s "
                    "(x%.2f)\n",
                    mat.name, static_cast<long>(kPrefill), blas * 1e3, flop / (blas * 1e9), det * 1e3,
                    flop / (det * 1e9), det / blas);
      }
      check(cudaFree(w), "cudaFree");
    }
    std::printf("%-5s decode matmuls, 1 row: %.3f ms a token, %.0f tokens/s bound\n", formats[f], step_ms,
                1e3 / step_ms);
  }
  cublasDestroy(handle);
  return 0;
}
