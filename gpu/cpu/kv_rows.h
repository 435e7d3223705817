// One (slot, KV head) row of the paged KV cache in its dtype (gpu/kv_dtype.h): written from
// float32 by store_kv, read back as float32 by the attention kernel.
#pragma once

#include <cstdint>

#include "gpu/backend.h"

namespace pio::cpu {

// Writes head_dim floats x as one row of `dtype` at row (kv_row_bytes(dtype, head_dim) bytes).
// bf16 and f16 round to nearest even (torch's .to()); q8 stores q = round(x / s) in [-127, 127]
// with s = max|x| / 127, q = x · (127 / max|x|) rounded to nearest even (0 for a zero row), as
// llama.cpp's Q8_0 quantises a block.
void store_kv_row(KvDType dtype, const float* x, int head_dim, void* row);
// Reads one row back as head_dim floats: exact for f32, bf16, f16; q * s for q8.
void load_kv_row(KvDType dtype, const void* row, int head_dim, float* out);

// Backend::store_kv: n rows of k and v (kv_heads * head_dim floats each) into cache slots
// [first_slot, first_slot + n) through block_table, converted to kv.dtype.
void store_kv(const PagedKvLayer& kv, const int32_t* block_table, int64_t first_slot, int64_t n, const float* k,
              const float* v);

}  // namespace pio::cpu
