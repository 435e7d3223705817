// Launchers of the element-wise and row kernels on `stream`. Every pointer is device memory
// (CudaBackend::allocate); dtypes are F32, BF16 or F16. They only enqueue work: errors of the
// launch itself are checked by the caller (cudaGetLastError), errors of the kernel surface at the
// next synchronisation. The arithmetic is in gpu/cuda/*_math.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "gpu/dtype.h"

namespace pio::cuda {

// y[r] = x[r] / sqrt(mean(x[r]²) + eps) * weight, rows of dim values.
void launch_rms_norm(cudaStream_t stream, const float* x, int64_t rows, int64_t dim, const void* weight,
                     DType weight_dtype, float eps, float* y);
// y[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias.
void launch_layer_norm(cudaStream_t stream, const float* x, int64_t rows, int64_t dim, const void* weight,
                       DType weight_dtype, const void* bias, DType bias_dtype, float eps, float* y);
// rotate_half rotary of `heads` heads per row in place; cos/sin hold head_dim/2 values per row.
void launch_rotary(cudaStream_t stream, float* x, int64_t rows, int64_t row_stride, int heads, int head_dim,
                   const float* cos, const float* sin);
void launch_silu_mul(cudaStream_t stream, float* gate, const float* up, int64_t n);
void launch_gelu_tanh(cudaStream_t stream, float* x, int64_t n);
void launch_gelu_erf(cudaStream_t stream, float* x, int64_t n);
void launch_add(cudaStream_t stream, float* x, const float* y, int64_t n);
// out[r, :] = table[ids[r], :] as float, for rows ids (device memory) of a [*, cols] table.
void launch_embed(cudaStream_t stream, const void* table, DType dtype, int64_t cols, const int32_t* ids,
                  int64_t rows, float* out);
// cudaSuccess when this build holds kernels the current device can run, else the reason
// (cudaErrorNoKernelImageForDevice for a compute capability it was not built for).
cudaError_t check_kernel_image();

}  // namespace pio::cuda
