// Element types of the KV cache. transformers keeps the cache in the model's dtype (bf16 for
// the released checkpoint); q8 halves that again.
#pragma once

#include <cstdint>
#include <string_view>

#include "gpu/dtype.h"

namespace pio {

enum class KvDType : uint8_t {
  F32,
  BF16,  // rounded to nearest even, as torch's .to(torch.bfloat16)
  F16,   // rounded to nearest even, as .to(torch.float16)
  Q8,    // per (slot, KV head) row: head_dim int8 values q, then one f32 scale s; x = q * s
};

// Bytes of one (slot, KV head) row of head_dim values: 4·head_dim (f32), 2·head_dim (bf16,
// f16), head_dim + 4 (q8). A slot holds kv_heads such rows (where: gpu/kv_layout.h).
int64_t kv_row_bytes(KvDType t, int head_dim);
// "f32", "bf16", "f16", "q8": the spelling of --kv-dtype.
std::string_view kv_dtype_name(KvDType t);
// False for any other name (the caller reports it).
bool parse_kv_dtype(std::string_view name, KvDType& out);
// --kv-dtype auto: the checkpoint's weight dtype (BF16 -> bf16, F16 -> f16, otherwise f32).
KvDType kv_dtype_for_weights(DType weights);

}  // namespace pio
