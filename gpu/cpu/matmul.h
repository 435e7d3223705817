// Matrix multiplication y = x · Wᵀ (+ bias) for float32 activations and f32/bf16/f16 weights
// (Q8/Q4 quantised weights: quant.h, which keeps the same invariance).
//
// Batch invariance: each y[i, j] is one fixed sequence of operations on row i of x and row j of W
// that depends only on k and the path (AVX2 or AVX-512 BF16): the same lane layout and k order
// whatever the number of rows m, the tile or remainder strip that holds row i, the column range
// [n0, n1) and the thread that runs it. So a sequence's rows come out bit-identical whatever
// else shares the call. The path depends only on the weight dtype and the CPU, never on m.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/quant.h"
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

// The caller's buffers for x's per-call copies; they only grow.
struct MatmulScratch {
  std::vector<uint16_t> bf16;  // x rounded to bf16 (AVX-512 BF16 path)
  QuantizedRows quant;         // x quantised to int8 blocks (Q8 and Q4 weights)
};

// Picks the fastest path for this CPU, dtype and weight format and splits the columns over the
// pool. Q8/Q4 weights (quant.h) take the AVX-512 VNNI path where the CPU has it, else AVX2.
void matmul(ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t m, const WeightView& w,
            const WeightView& bias, float* y);
// Backend::matmul_shared: x rounded or quantised once and all the outputs' columns split over the
// pool in one job when the weights share format, dtype and cols (else one matmul each); every
// output bit-identical to its own matmul.
void matmul_shared(ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t m,
                   std::span<const Backend::MatmulOutput> outputs);

}  // namespace pio::cpu
