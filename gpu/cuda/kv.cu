// The KV-cache store kernel: launch only; the arithmetic is kv_math.h's store_row.
#include <stdexcept>
#include <string>

#include "gpu/cuda/cuda_check.h"
#include "gpu/cuda/device_cta.cuh"
#include "gpu/cuda/kv.h"
#include "gpu/cuda/kv_math.h"

namespace pio::cuda {
namespace {

// Block (i, h, z): row i of k (z = 0) or v (z = 1), KV head h, into slot first_slot + i.
__global__ void store_kv_kernel(unsigned char* k_cache, unsigned char* v_cache, PagedRows rows, KvDType dtype,
                                int head_dim, int64_t first_slot, const float* k, const float* v) {
  __shared__ float scratch[kStoreThreads];
  const int64_t i = blockIdx.x;
  const int head = static_cast<int>(blockIdx.y);
  const bool is_v = blockIdx.z == 1;
  const float* x = (is_v ? v : k) + (i * rows.kv_heads + head) * head_dim;
  unsigned char* row = (is_v ? v_cache : k_cache) + rows.offset(first_slot + i, head);
  store_row(DeviceCta{}, dtype, x, head_dim, row, scratch);
}

}  // namespace

void store_kv(const DeviceKvLayer& kv, const int32_t* block_table, int64_t first_slot, int64_t n, const float* k,
              const float* v, cudaStream_t stream) {
  if (n <= 0) return;
  if (kv.kv_heads > 65535) throw std::invalid_argument("store_kv: more than 65535 KV heads");
  const PagedRows rows{block_table, kv.block_size, kv.kv_heads, kv_row_bytes(kv.dtype, kv.head_dim)};
  store_kv_kernel<<<dim3(static_cast<unsigned>(n), static_cast<unsigned>(kv.kv_heads), 2), kStoreThreads, 0,
                    stream>>>(static_cast<unsigned char*>(kv.k), static_cast<unsigned char*>(kv.v), rows, kv.dtype,
                              kv.head_dim, first_slot, k, v);
  check(cudaGetLastError(), "store_kv launch");  // DeviceLost when an earlier kernel's fault surfaces here
}

}  // namespace pio::cuda
