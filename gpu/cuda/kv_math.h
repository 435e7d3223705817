// The per-thread arithmetic of the CUDA KV-cache kernels (gpu/cuda/kv.cu) and of the attention
// kernels' cache reads: `__host__ __device__` functions of explicit indices, compiled by nvcc for
// the device and by g++ for the CPU tests (tests/gpu/test_cuda_kv_math.cpp), which run them over
// every block and thread. A row's bytes are those of gpu/cpu/kv_rows.cpp, so cache blocks written
// by either backend read the same on the other.
#pragma once

#include <math.h>

#include <cstdint>
#include <cstring>

#include "gpu/kernel_math.h"
#include "gpu/kv_dtype.h"
#include "gpu/kv_layout.h"

namespace pio::cuda {

// a · b, a + b and a / b rounded once each: never fused into a multiply-add by the compiler (nvcc fuses
// by default; g++ builds these files' tests with -ffp-contract=off), so host and device agree.
PIO_HD float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
PIO_HD float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
PIO_HD float div_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
// a · b + c rounded once.
PIO_HD float fma_rn(float a, float b, float c) {
#ifdef __CUDA_ARCH__
  return __fmaf_rn(a, b, c);
#else
  return ::fmaf(a, b, c);
#endif
}
// std::max's rule (a < b ? b : a): a NaN in b is never taken.
PIO_HD float max_of(float a, float b) { return a < b ? b : a; }
PIO_HD float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
PIO_HD float neg_inf() { return bits_to_float(0xff800000u); }

// q8's scale of a row whose largest magnitude is amax, and the factor its values are multiplied
// by before rounding (0 for a zero row): kv_rows.cpp's store_kv_row.
PIO_HD float q8_scale(float amax) { return div_rn(amax, 127.0f); }
PIO_HD float q8_inverse(float amax) { return amax > 0.0f ? div_rn(127.0f, amax) : 0.0f; }

// The f32 scale stored after a q8 row's head_dim bytes (any alignment).
PIO_HD float q8_row_scale(const unsigned char* row, int head_dim) {
  const unsigned char* p = row + head_dim;
  return bits_to_float(uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
}

// Value d of one (slot, KV head) row in `dtype`, as float: exact for f32, bf16, f16; q · s for
// q8 (the CPU's load_kv_row).
PIO_HD float kv_load(KvDType dtype, const unsigned char* row, int head_dim, int d) {
  switch (dtype) {
    case KvDType::F32: return reinterpret_cast<const float*>(row)[d];
    case KvDType::BF16: return math::bf16_to_f32(reinterpret_cast<const uint16_t*>(row)[d]);
    case KvDType::F16: return math::f16_to_f32(reinterpret_cast<const uint16_t*>(row)[d]);
    case KvDType::Q8:
      return mul_rn(static_cast<float>(reinterpret_cast<const signed char*>(row)[d]), q8_row_scale(row, head_dim));
  }
  return 0.0f;
}

// Writes value d (x) of a row in `dtype`; q8 writes q = clamp(round-to-even(x · inverse), ±127)
// (NaN: 127), `inverse` being q8_inverse of the row's largest magnitude.
PIO_HD void kv_store(KvDType dtype, float x, float inverse, unsigned char* row, int d) {
  switch (dtype) {
    case KvDType::F32: reinterpret_cast<float*>(row)[d] = x; return;
    case KvDType::BF16: reinterpret_cast<uint16_t*>(row)[d] = math::f32_to_bf16(x); return;
    case KvDType::F16: reinterpret_cast<uint16_t*>(row)[d] = math::f32_to_f16(x); return;
    case KvDType::Q8:
      reinterpret_cast<signed char*>(row)[d] =
          static_cast<signed char>(::fmaxf(-127.0f, ::fminf(127.0f, ::nearbyintf(mul_rn(x, inverse)))));
      return;
  }
}

// Where a KV row lives: row (slot, head) of a paged layer through its block table.
struct PagedRows {
  const int32_t* table;  // physical block of each logical block
  int block_size;
  int kv_heads;
  int64_t row_bytes;
  PIO_HD int64_t offset(int64_t slot, int head) const {
    const int64_t phys = int64_t{table[slot / block_size]} * block_size + slot % block_size;
    return kv_row_offset(phys, head, block_size, kv_heads, row_bytes);
  }
};

// Threads of one store_kv block: a power of two (the reduction tree halves it).
constexpr int kStoreThreads = 32;

// One CTA of store_kv: writes the head_dim floats x as one row in `dtype`. `cta` runs phases
// (cta.phase(f) calls f(thread, threads) for every thread, then waits at a barrier); `scratch`
// is kStoreThreads floats of shared memory. For q8 the row's largest magnitude comes from each
// thread's running max over d = thread, thread + threads, ... then a halving tree; max is exact,
// so the bytes equal the CPU's whatever the order.
template <class Cta>
PIO_HD void store_row(const Cta& cta, KvDType dtype, const float* x, int head_dim, unsigned char* row,
                      float* scratch) {
  if (dtype == KvDType::Q8) {
    cta.phase([&](int t, int n) {
      float amax = 0.0f;
      for (int d = t; d < head_dim; d += n) amax = max_of(amax, ::fabsf(x[d]));
      scratch[t] = amax;
    });
    for (int half = kStoreThreads / 2; half > 0; half /= 2)
      cta.phase([&](int t, int) {
        if (t < half) scratch[t] = max_of(scratch[t], scratch[t + half]);
      });
  }
  cta.phase([&](int t, int n) {
    const float amax = dtype == KvDType::Q8 ? scratch[0] : 0.0f, inverse = q8_inverse(amax);
    for (int d = t; d < head_dim; d += n) kv_store(dtype, x[d], inverse, row, d);
    if (dtype == KvDType::Q8 && t == 0) {
      const float scale = q8_scale(amax);
      std::memcpy(row + head_dim, &scale, sizeof scale);
    }
  });
}

}  // namespace pio::cuda
