// How the CUDA kernels map work onto blocks and threads, as plain functions of explicit indices so
// that the CPU tests (tests/gpu/test_cuda_kernel_math.cpp) can run every block and thread of a
// launch in order. A kernel's phases are separated by barriers (__syncthreads on the device, the
// end of a loop over all threads on the host).
#pragma once

#include <cstdint>

#include "gpu/dtype.h"
#include "gpu/kernel_math.h"

namespace pio::cuda {

// Threads per block of the element-wise kernels (one element or rotary pair per thread).
inline constexpr int kPointwiseThreads = 256;
// Threads per block of the row kernels (one row per block); a power of two for the tree reduction.
inline constexpr int kRowThreads = 256;

// Blocks of `threads` threads that cover n elements.
PIO_HD int64_t blocks_for(int64_t n, int threads) { return (n + threads - 1) / threads; }

// The element a thread of an element-wise launch handles (it does nothing when >= n).
PIO_HD int64_t flat_index(int64_t block, int thread, int threads) { return block * threads + thread; }

// One step of a shared-memory tree reduction: threads below `stride` add the partial `stride`
// above them. Run for stride = threads/2, threads/4, ..., 1 with a barrier after each step; then
// partial[0] holds the sum, added in an order that depends only on the block size.
PIO_HD void tree_reduce_step(float* partial, int thread, int stride) {
  if (thread < stride) partial[thread] += partial[thread + stride];
}

// Element i of a Plain weight of dtype F32, BF16 or F16 (the norms' and the embedding's dtypes;
// the backend refuses others before launching).
PIO_HD float load_weight(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::BF16: return math::bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
    case DType::F16: return math::f16_to_f32(static_cast<const uint16_t*>(data)[i]);
    default: return static_cast<const float*>(data)[i];
  }
}

}  // namespace pio::cuda
