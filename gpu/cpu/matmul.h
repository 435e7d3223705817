// Matrix multiplication y = x · Wᵀ (+ bias) for float32 activations and f32/bf16/f16 weights.
//
// Batch invariance: each y[i, j] is one fixed sequence of operations on row i of x and row j of W
// that depends only on k and the path (AVX2 or AVX-512 BF16): the same lane layout and k order
// whatever the number of rows m, the tile or remainder strip that holds row i, the column range
// [n0, n1) and the thread that runs it. So a sequence's rows come out bit-identical whatever
// else shares the call. The path depends only on the weight dtype and the CPU, never on m.
#pragma once

#include <cstdint>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/thread_pool.h"

namespace pio::cpu {

struct MatmulArgs {
  const float* x = nullptr;         // [m, k]
  const uint16_t* x_bf16 = nullptr;  // x rounded to bf16, for the AVX-512 BF16 path
  int64_t m = 0;
  int64_t k = 0;
  WeightView w;                     // [n, k]
  WeightView bias;                  // [n] or empty
  float* y = nullptr;               // [m, n]
};

// Output columns [n0, n1) for all rows. Each path is callable directly so tests can compare them.
void matmul_block_avx2(const MatmulArgs& a, int64_t n0, int64_t n1);
// Requires bf16 weights, a.x_bf16, and a CPU with AVX-512 BF16.
void matmul_block_avx512_bf16(const MatmulArgs& a, int64_t n0, int64_t n1);
// Rounds n floats to bf16 (nearest even, subnormals flushed to zero as vdpbf16ps reads them
// anyway) with AVX-512 BF16 instructions, each element the same way wherever it lies.
void round_to_bf16_avx512(const float* x, int64_t n, uint16_t* out);

// Picks the fastest path for this CPU and dtype and splits the columns over the pool.
// `scratch` holds the bf16 copy of x; it only grows.
void matmul(ThreadPool& pool, std::vector<uint16_t>& scratch, const float* x, int64_t m, const WeightView& w,
            const WeightView& bias, float* y);

}  // namespace pio::cpu
