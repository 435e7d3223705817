// Prefill GEMM through cuBLAS (cublasGemmEx, float32 accumulation) and the choice and
// conversion of the dense weights' device dtype.
#include <climits>

#include "gpu/cuda/activation_scale_math.h"
#include "gpu/cuda/gemv_math.h"
#include "gpu/cuda/matmul.h"

namespace pio::cuda {
namespace {

using namespace cuda_math;

constexpr int kThreads = 256;

// exponents[row] = f16_row_exponent of row `row` of x [rows, k]: one block per row
// (activation_scale_math.h).
__global__ void row_exponent_kernel(const float* x, int64_t k, int* exponents) {
  __shared__ float partial[kThreads];
  const int t = static_cast<int>(threadIdx.x);
  const int64_t row = blockIdx.x;
  partial[t] = max_abs_part(x + row * k, k, t, kThreads);
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    tree_max_step(partial, t, stride);
    __syncthreads();
  }
  if (t == 0) exponents[row] = f16_row_exponent(partial[0]);
}

// dst[i] = src[i] (of rows of k) rounded to dtype (BF16 or F16), divided first by 2^exponents[row]
// when exponents is set, for i < count.
__global__ void round_rows_kernel(const float* src, uint16_t* dst, int64_t count, int64_t k, const int* exponents,
                                  DType dtype) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i < count) dst[i] = round_scaled_activation(src[i], exponents ? exponents[i / k] : 0, dtype);
}

__global__ void convert_bf16_kernel(const uint16_t* src, void* dst, int64_t count, DType dtype) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= count) return;
  if (dtype == DType::F32) static_cast<float*>(dst)[i] = math::bf16_to_f32(src[i]);
  else static_cast<uint16_t*>(dst)[i] = convert_bf16_weight(src[i], dtype);
}

__global__ void dequantize_kernel(const uint8_t* w, bool q4, int64_t n, int64_t k, DType dtype, void* dst) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n * k) return;
  const float v = quant_weight_value(q4, w, k, i / k, i % k);
  if (dtype == DType::F32) static_cast<float*>(dst)[i] = v;
  else static_cast<uint16_t*>(dst)[i] = round_activation(v, dtype);
}

// y[i, j] = y[i, j] · 2^exponents[i] (when exponents is set) + bias[j] (when bias is set).
__global__ void finish_rows_kernel(float* y, int64_t m, int64_t n, const int* exponents, const float* bias) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i < m * n) y[i] = finish_scaled(y[i], exponents ? exponents[i / n] : 0, bias, i % n);
}

unsigned blocks(int64_t count) { return static_cast<unsigned>(ceil_div(count, kThreads)); }

cudaDataType_t cuda_type(DType dtype) {
  return dtype == DType::BF16 ? CUDA_R_16BF : (dtype == DType::F16 ? CUDA_R_16F : CUDA_R_32F);
}

}  // namespace

void launch_convert_bf16_weights(cudaStream_t stream, const uint16_t* src, void* dst, int64_t count, DType dtype) {
  if (count > 0) convert_bf16_kernel<<<blocks(count), kThreads, 0, stream>>>(src, dst, count, dtype);
}

void launch_dequantize_weight(cudaStream_t stream, const void* w, WeightFormat format, int64_t n, int64_t k,
                              DType dtype, void* dst) {
  if (n * k > 0)
    dequantize_kernel<<<blocks(n * k), kThreads, 0, stream>>>(static_cast<const uint8_t*>(w),
                                                              format == WeightFormat::Q4, n, k, dtype, dst);
}

namespace {
// gemm_cublas's workspace: x rounded (m * k halves), then for F16 the rows' exponents at the next
// 256-byte boundary.
int64_t exponents_offset(int64_t m, int64_t k) { return ceil_div(m * k * 2, 256) * 256; }
}  // namespace

int64_t cublas_workspace_bytes(int64_t m, int64_t k, DType dtype) {
  if (dtype == DType::F32) return 0;
  return dtype == DType::F16 ? exponents_offset(m, k) + m * static_cast<int64_t>(sizeof(int)) : m * k * 2;
}

cublasStatus_t gemm_cublas(cudaStream_t stream, cublasHandle_t handle, const float* x, int64_t m, const void* w,
                           DType dtype, int64_t n, int64_t k, const float* bias, void* workspace, float* y) {
  if (m <= 0 || n <= 0) return CUBLAS_STATUS_SUCCESS;
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX) return CUBLAS_STATUS_INVALID_VALUE;
  if (k <= 0) {  // an empty sum: y is the bias, or zero (cuBLAS refuses k = 0: its leading dimensions must be >= 1)
    if (cudaMemsetAsync(y, 0, static_cast<size_t>(m * n) * sizeof(float), stream) != cudaSuccess)
      return CUBLAS_STATUS_EXECUTION_FAILED;
    if (bias) finish_rows_kernel<<<blocks(m * n), kThreads, 0, stream>>>(y, m, n, nullptr, bias);
    return CUBLAS_STATUS_SUCCESS;
  }
  if (const cublasStatus_t st = cublasSetStream(handle, stream); st != CUBLAS_STATUS_SUCCESS) return st;
  const void* b = x;
  int* exponents = nullptr;  // F16's row scales (activation_scale_math.h)
  if (dtype == DType::F16) {
    exponents = reinterpret_cast<int*>(static_cast<char*>(workspace) + exponents_offset(m, k));
    row_exponent_kernel<<<static_cast<unsigned>(m), kThreads, 0, stream>>>(x, k, exponents);
  }
  if (dtype != DType::F32) {
    round_rows_kernel<<<blocks(m * k), kThreads, 0, stream>>>(x, static_cast<uint16_t*>(workspace), m * k, k,
                                                              exponents, dtype);
    b = workspace;
  }
  // Column-major view: y [m, n] row-major is Y [n, m]; Y = Wᵀ-as-stored (W [n, k] row-major is
  // [k, n] column-major, transposed) times X ([m, k] row-major is [k, m] column-major).
  const float alpha = 1.0f, beta = 0.0f;
  const cudaDataType_t t = cuda_type(dtype);
  const cublasStatus_t st = cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                                         static_cast<int>(k), &alpha, w, t, static_cast<int>(k), b, t,
                                         static_cast<int>(k), &beta, y, CUDA_R_32F, static_cast<int>(n),
                                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (st == CUBLAS_STATUS_SUCCESS && (bias || exponents))
    finish_rows_kernel<<<blocks(m * n), kThreads, 0, stream>>>(y, m, n, exponents, bias);
  return st;
}

}  // namespace pio::cuda
