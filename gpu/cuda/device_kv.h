// The paged KV cache and the attention sequences as the CUDA kernels read them: the fields of
// PagedKvLayer and AttentionSequence (gpu/backend.h) with every pointer in device memory. Plain
// C++17, as every header a .cu file includes (gpu/backend.h needs C++20).
#pragma once

#include <cstdint>

#include "gpu/kv_dtype.h"

namespace pio::cuda {

// One layer's paged cache: K and V each hold blocks of block_size slots; slot p holds kv_heads
// rows of head_dim values in `dtype`, row (p, h) at byte kv_row_offset (gpu/kv_layout.h).
struct DeviceKvLayer {
  void* k;  // device memory
  void* v;  // device memory
  KvDType dtype;
  int block_size;
  int kv_heads;
  int head_dim;
};

// One sequence of a paged attention call: its queries are rows [q_begin, q_begin + n_queries) of
// q and out; query i sees cache slots [0, cached_before + i].
struct DeviceSequence {
  const int32_t* block_table;  // device memory: the physical block of each logical block
  int64_t q_begin;
  int64_t n_queries;
  int64_t cached_before;
};

}  // namespace pio::cuda
