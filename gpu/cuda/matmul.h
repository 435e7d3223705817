// Launchers of the CUDA matmul kernels: y = x · Wᵀ (+ bias) with x [m, k] and y [m, n] float32
// row-major and W [n, k] (PyTorch layout). Every pointer is device memory. The launchers only
// enqueue work on `stream`: errors of a launch are checked by the caller (cudaGetLastError),
// errors of a kernel surface at the next synchronisation. The arithmetic, its batch invariance
// and its CPU tests: gemv_math.h.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "gpu/backend.h"
#include "gpu/cuda/gemv_math.h"
#include "gpu/dtype.h"

namespace pio::cuda {

// The dense weights' device dtype: cuda_math::dense_weight_dtype (gemv_math.h).
using cuda_math::dense_weight_dtype;

// dst[i] = src[i] for count bf16 values, converted to `dtype` (BF16: copied; F16: rounded to
// nearest even; F32: exact). dst holds count elements of dtype and does not overlap src.
void launch_convert_bf16_weights(cudaStream_t stream, const uint16_t* src, void* dst, int64_t count, DType dtype);

// Decode GEMV for dense weights: W [n, k] of dtype F32, BF16 or F16, bias [n] float32 or null.
// Any m (rows go in passes of 16; 1..16 rows is the intended use). Row i of y depends on row i of
// x only, and equals launch_gemm_deterministic's bit for bit.
void launch_gemv_dense(cudaStream_t stream, const float* x, int64_t m, const void* w, DType dtype, int64_t n,
                       int64_t k, const float* bias, float* y);

// Bytes of the scratch launch_gemv_quant needs for m rows of k columns (x quantised: 32 int8
// and two floats per 32-block).
int64_t quant_workspace_bytes(int64_t m, int64_t k);

// Decode GEMV for format Q8 or Q4: W is the CPU's panel layout (the bytes quantize_weight
// writes, uploaded unchanged; 4-byte aligned), logical shape [n, k]; bias [n] float32 or null;
// workspace of quant_workspace_bytes(m, k) bytes, 16-byte aligned (cudaMalloc gives 256).
// Any m (passes of 16 rows).
// x is quantised per 32-block to int8 exactly as the CPU does; block dot products use dp4a.
void launch_gemv_quant(cudaStream_t stream, const float* x, int64_t m, const void* w, WeightFormat format, int64_t n,
                       int64_t k, const float* bias, void* workspace, float* y);

// The fixed-order tiled GEMM for `--deterministic` prefill: W [n, k] of dtype F32, BF16 or F16,
// bias [n] float32 or null, any m; each output's bits equal launch_gemv_dense's, whatever m
// and whatever shares the call.
void launch_gemm_deterministic(cudaStream_t stream, const float* x, int64_t m, const void* w, DType dtype, int64_t n,
                               int64_t k, const float* bias, float* y);

// dst [n, k] = the values of a Q8/Q4 weight (the CPU's panels) rounded to dtype (BF16, F16
// to nearest even; F32 exact): a dense copy for gemm_cublas's prefill of quantised weights.
void launch_dequantize_weight(cudaStream_t stream, const void* w, WeightFormat format, int64_t n, int64_t k,
                              DType dtype, void* dst);

// Bytes of the scratch gemm_cublas needs: x rounded to dtype (0 for F32), and for F16 the rows'
// scale exponents.
int64_t cublas_workspace_bytes(int64_t m, int64_t k, DType dtype);

// Prefill GEMM through cublasGemmEx with float32 accumulation (CUBLAS_COMPUTE_32F): x is rounded
// to the weights' dtype (BF16 or F16; the CPU's AVX-512 BF16 path rounds it to bf16 too) into
// workspace (cublas_workspace_bytes bytes, 16-byte aligned); for F16, a row beyond f16's range
// is scaled by a power of two first and its outputs back after, so none becomes inf
// (activation_scale_math.h). W [n, k] of dtype F32, BF16 or F16, bias [n] float32 or null; k = 0
// gives y = bias (or zeros) without cuBLAS. Binds `handle` to `stream`. m, n, k must fit an int.
// Returns cuBLAS's status (EXECUTION_FAILED when k = 0's clearing of y cannot be queued) (the conversion and bias launches are checked by the caller as above). The
// bits may depend on m (cuBLAS picks its kernels by shape): launch_gemm_deterministic is the
// invariant path.
cublasStatus_t gemm_cublas(cudaStream_t stream, cublasHandle_t handle, const float* x, int64_t m, const void* w,
                           DType dtype, int64_t n, int64_t k, const float* bias, void* workspace, float* y);

}  // namespace pio::cuda
