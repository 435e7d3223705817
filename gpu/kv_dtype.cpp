#include "gpu/kv_dtype.h"

namespace pio {

int64_t kv_row_bytes(KvDType t, int head_dim) {
  switch (t) {
    case KvDType::F32: return 4 * int64_t{head_dim};
    case KvDType::BF16: case KvDType::F16: return 2 * int64_t{head_dim};
    case KvDType::Q8: return int64_t{head_dim} + 4;
  }
  return 0;
}

std::string_view kv_dtype_name(KvDType t) {
  switch (t) {
    case KvDType::F32: return "f32";
    case KvDType::BF16: return "bf16";
    case KvDType::F16: return "f16";
    case KvDType::Q8: return "q8";
  }
  return "?";
}

bool parse_kv_dtype(std::string_view name, KvDType& out) {
  for (KvDType t : {KvDType::F32, KvDType::BF16, KvDType::F16, KvDType::Q8}) {
    if (kv_dtype_name(t) == name) {
      out = t;
      return true;
    }
  }
  return false;
}

KvDType kv_dtype_for_weights(DType weights) {
  if (weights == DType::BF16) return KvDType::BF16;
  if (weights == DType::F16) return KvDType::F16;
  return KvDType::F32;
}

}  // namespace pio
