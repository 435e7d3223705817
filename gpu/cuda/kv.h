// Launcher of the CUDA KV-cache store (gpu/cuda/kv.cu); its arithmetic is in kv_math.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "gpu/cuda/device_kv.h"

namespace pio::cuda {

// Backend::store_kv on the device: n rows of k and v (device pointers, kv_heads · head_dim floats
// per row) into cache slots [first_slot, first_slot + n) of kv through block_table (a device
// pointer: the physical block of each logical block), converted to kv.dtype with the CPU
// backend's bytes (gpu/cpu/kv_rows.h). Queued on `stream`; throws std::invalid_argument for over
// 65535 KV heads, std::runtime_error when the launch fails.
void store_kv(const DeviceKvLayer& kv, const int32_t* block_table, int64_t first_slot, int64_t n, const float* k,
              const float* v, cudaStream_t stream);

}  // namespace pio::cuda
