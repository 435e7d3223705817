// Element-wise kernels: one thread per element (rotary: per pair); the arithmetic is
// gpu/cuda/pointwise_math.h.
#include "gpu/cuda/kernels.h"
#include "gpu/cuda/pointwise_math.h"

namespace pio::cuda {
namespace {

__device__ int64_t this_element() {
  return flat_index(static_cast<int64_t>(blockIdx.x), static_cast<int>(threadIdx.x), kPointwiseThreads);
}

__global__ void silu_mul_kernel(float* gate, const float* up, int64_t n) {
  if (const int64_t e = this_element(); e < n) silu_mul_at(gate, up, e);
}
__global__ void gelu_tanh_kernel(float* x, int64_t n) {
  if (const int64_t e = this_element(); e < n) gelu_tanh_at(x, e);
}
__global__ void gelu_erf_kernel(float* x, int64_t n) {
  if (const int64_t e = this_element(); e < n) gelu_erf_at(x, e);
}
__global__ void add_kernel(float* x, const float* y, int64_t n) {
  if (const int64_t e = this_element(); e < n) add_at(x, y, e);
}
__global__ void rotary_kernel(float* x, int64_t row_stride, int heads, int head_dim, const float* cos,
                              const float* sin, int64_t n) {
  if (const int64_t e = this_element(); e < n) rotary_at(x, row_stride, heads, head_dim, cos, sin, e);
}
__global__ void embed_kernel(const void* table, DType dtype, int64_t cols, const int32_t* ids, float* out, int64_t n) {
  if (const int64_t e = this_element(); e < n) embed_at(table, dtype, cols, ids, out, e);
}

unsigned grid(int64_t n) { return static_cast<unsigned>(blocks_for(n, kPointwiseThreads)); }

}  // namespace

void launch_silu_mul(cudaStream_t stream, float* gate, const float* up, int64_t n) {
  if (n > 0) silu_mul_kernel<<<grid(n), kPointwiseThreads, 0, stream>>>(gate, up, n);
}
void launch_gelu_tanh(cudaStream_t stream, float* x, int64_t n) {
  if (n > 0) gelu_tanh_kernel<<<grid(n), kPointwiseThreads, 0, stream>>>(x, n);
}
void launch_gelu_erf(cudaStream_t stream, float* x, int64_t n) {
  if (n > 0) gelu_erf_kernel<<<grid(n), kPointwiseThreads, 0, stream>>>(x, n);
}
void launch_add(cudaStream_t stream, float* x, const float* y, int64_t n) {
  if (n > 0) add_kernel<<<grid(n), kPointwiseThreads, 0, stream>>>(x, y, n);
}
void launch_rotary(cudaStream_t stream, float* x, int64_t rows, int64_t row_stride, int heads, int head_dim,
                   const float* cos, const float* sin) {
  const int64_t n = rows * heads * (head_dim / 2);
  if (n > 0) rotary_kernel<<<grid(n), kPointwiseThreads, 0, stream>>>(x, row_stride, heads, head_dim, cos, sin, n);
}
void launch_embed(cudaStream_t stream, const void* table, DType dtype, int64_t cols, const int32_t* ids,
                  int64_t rows, float* out) {
  const int64_t n = rows * cols;
  if (n > 0) embed_kernel<<<grid(n), kPointwiseThreads, 0, stream>>>(table, dtype, cols, ids, out, n);
}

cudaError_t check_kernel_image() {
  cudaFuncAttributes attributes{};
  return cudaFuncGetAttributes(&attributes, add_kernel);
}

}  // namespace pio::cuda
