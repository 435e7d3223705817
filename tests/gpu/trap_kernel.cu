#include "tests/gpu/trap_kernel.h"

#include <cuda_runtime_api.h>

namespace {

__global__ void trap_kernel() { __trap(); }

}  // namespace

namespace test {

int trap_device() {
  trap_kernel<<<1, 1>>>();
  return static_cast<int>(cudaDeviceSynchronize());
}

}  // namespace test
