#include "gpu/cpu/kv_rows.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gpu/cpu/kv_lanes.h"
#include "gpu/kernel_math.h"

namespace pio::cpu {

void store_kv_row(KvDType dtype, const float* x, int head_dim, void* row) {
  switch (dtype) {
    case KvDType::F32:
      std::memcpy(row, x, sizeof(float) * static_cast<size_t>(head_dim));
      return;
    case KvDType::BF16:
    case KvDType::F16: {
      auto* out = static_cast<uint16_t*>(row);
      for (int d = 0; d < head_dim; ++d)
        out[d] = dtype == KvDType::BF16 ? math::f32_to_bf16(x[d]) : math::f32_to_f16(x[d]);
      return;
    }
    case KvDType::Q8: {
      float amax = 0.0f;
      for (int d = 0; d < head_dim; ++d) amax = std::max(amax, std::abs(x[d]));
      const float scale = amax / 127.0f;
      const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
      auto* q = static_cast<int8_t*>(row);
      for (int d = 0; d < head_dim; ++d)
        q[d] = static_cast<int8_t>(std::fmax(-127.0f, std::fmin(127.0f, std::nearbyint(x[d] * inv))));  // NaN: 127
      std::memcpy(q + head_dim, &scale, sizeof scale);
      return;
    }
  }
}

namespace {

template <KvDType D>
void load_row(const char* row, int head_dim, float* out) {
  int d = 0;
  for (; d + 8 <= head_dim; d += 8) _mm256_storeu_ps(out + d, kv_load8<D>(row, d, head_dim));
  for (; d < head_dim; ++d) out[d] = kv_load1<D>(row, d, head_dim);
}

}  // namespace

void load_kv_row(KvDType dtype, const void* row, int head_dim, float* out) {
  const auto* bytes = static_cast<const char*>(row);
  switch (dtype) {
    case KvDType::F32: return load_row<KvDType::F32>(bytes, head_dim, out);
    case KvDType::BF16: return load_row<KvDType::BF16>(bytes, head_dim, out);
    case KvDType::F16: return load_row<KvDType::F16>(bytes, head_dim, out);
    case KvDType::Q8: return load_row<KvDType::Q8>(bytes, head_dim, out);
  }
}

void store_kv(const PagedKvLayer& kv, const int32_t* block_table, int64_t first_slot, int64_t n, const float* k,
              const float* v) {
  const int64_t stride = int64_t{kv.kv_heads} * kv.head_dim;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t slot = first_slot + i;
    const int64_t phys = int64_t{block_table[slot / kv.block_size]} * kv.block_size + slot % kv.block_size;
    for (int h = 0; h < kv.kv_heads; ++h) {
      const int64_t at = kv.row_offset(phys, h), from = i * stride + int64_t{h} * kv.head_dim;
      store_kv_row(kv.dtype, k + from, kv.head_dim, static_cast<char*>(kv.k) + at);
      store_kv_row(kv.dtype, v + from, kv.head_dim, static_cast<char*>(kv.v) + at);
    }
  }
}

}  // namespace pio::cpu
