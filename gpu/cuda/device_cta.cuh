// The device side of the phase model of gpu/cuda/attention_math.h and kv_math.h: in a kernel,
// each thread runs a CTA program's phases itself, with a barrier after each.
#pragma once

#include "gpu/kernel_math.h"

namespace pio::cuda {

struct DeviceCta {
  // f(thread, threads) on this thread, then __syncthreads(). Every thread of the CTA must call it
  // (the programs branch only on values that are the same for the whole CTA).
  template <class F>
  PIO_HD void phase(F&& f) const {
#ifdef __CUDA_ARCH__
    f(static_cast<int>(threadIdx.x), static_cast<int>(blockDim.x));
    __syncthreads();
#else
    (void)f;
#endif
  }
};

}  // namespace pio::cuda
