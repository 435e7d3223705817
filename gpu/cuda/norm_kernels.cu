// RMSNorm and LayerNorm: one block per row; the arithmetic is gpu/cuda/norm_math.h.
#include "gpu/cuda/kernels.h"
#include "gpu/cuda/norm_math.h"

namespace pio::cuda {
namespace {

// partial[0] = the sum of every thread's `value` (the block's tree reduction), then a barrier so
// that partial can be reused.
__device__ float block_sum(float* partial, float value) {
  const int t = static_cast<int>(threadIdx.x);
  partial[t] = value;
  __syncthreads();
  for (int stride = kRowThreads / 2; stride > 0; stride /= 2) {
    tree_reduce_step(partial, t, stride);
    __syncthreads();
  }
  const float total = partial[0];
  __syncthreads();
  return total;
}

__global__ void rms_norm_kernel(const float* x, int64_t dim, const void* weight, DType weight_dtype, float eps,
                                float* y) {
  __shared__ float partial[kRowThreads];
  const int t = static_cast<int>(threadIdx.x);
  const int64_t row = blockIdx.x;
  const float* xr = x + row * dim;
  const float inv = inverse_root_mean(block_sum(partial, sum_squares(xr, dim, t, kRowThreads)), dim, eps);
  rms_norm_store(xr, dim, weight, weight_dtype, inv, y + row * dim, t, kRowThreads);
}

__global__ void layer_norm_kernel(const float* x, int64_t dim, const void* weight, DType weight_dtype,
                                  const void* bias, DType bias_dtype, float eps, float* y) {
  __shared__ float partial[kRowThreads];
  const int t = static_cast<int>(threadIdx.x);
  const int64_t row = blockIdx.x;
  const float* xr = x + row * dim;
  const float mean = block_sum(partial, sum_values(xr, dim, t, kRowThreads)) / static_cast<float>(dim);
  const float inv = inverse_root_mean(block_sum(partial, sum_centred_squares(xr, dim, mean, t, kRowThreads)), dim, eps);
  layer_norm_store(xr, dim, mean, inv, weight, weight_dtype, bias, bias_dtype, y + row * dim, t, kRowThreads);
}

}  // namespace

void launch_rms_norm(cudaStream_t stream, const float* x, int64_t rows, int64_t dim, const void* weight,
                     DType weight_dtype, float eps, float* y) {
  if (rows == 0) return;
  rms_norm_kernel<<<static_cast<unsigned>(rows), kRowThreads, 0, stream>>>(x, dim, weight, weight_dtype, eps, y);
}

void launch_layer_norm(cudaStream_t stream, const float* x, int64_t rows, int64_t dim, const void* weight,
                       DType weight_dtype, const void* bias, DType bias_dtype, float eps, float* y) {
  if (rows == 0) return;
  layer_norm_kernel<<<static_cast<unsigned>(rows), kRowThreads, 0, stream>>>(x, dim, weight, weight_dtype, bias,
                                                                             bias_dtype, eps, y);
}

}  // namespace pio::cuda
