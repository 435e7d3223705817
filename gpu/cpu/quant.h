// 8-bit and 4-bit quantised weights and their integer dot-product matmul kernels (after
// llama.cpp's Q8_0 and Q4_1 with its repacked "x8" layouts): y = x · Wᵀ with W quantised once
// at load and x quantised per call to int8 blocks of 32 along k.
//
// Weight layout. W [n, k] is cut into panels of 16 output rows (the last one zero-padded) and
// each row into KB = ceil(k / 32) blocks of 32 values along k (zero-padded). Panel p (rows
// 16p .. 16p + 15) starts at p * panel_bytes and is read front to back; for block b, row r
// (0..15) and value t (0..31) of the block:
//   Q8 (1.0625 bytes/value when KB is even, as Q8_0): panel_bytes = ceil(KB / 2) * 1088, pairs of
//     blocks of 64 bytes of scales then 2 x 512 bytes of quants. With g = b / 2 * 1088:
//     f16 d[r][b] at byte  g + (b % 2) * 32 + r * 2;
//     int8 q[r][32b + t] at byte  g + 64 + (b % 2) * 512 + (t / 4) * 64 + r * 4 + t % 4.
//     w ≈ d * q, d = max|w| / 127 rounded up to f16, q = round(w / d) in -127..127.
//   Q4 (0.625 bytes/value, per-group asymmetric as Q4_1): panel_bytes = KB * 320, per block 64
//     bytes of scales then 256 of quants. With g = b * 320:
//     f16 d[r][b] at byte  g + r * 2,  f16 m[r][b] at byte  g + 32 + r * 2;
//     q[r][32b + t] in the low nibble (t % 8 < 4) or the high nibble (t % 8 >= 4) of the byte
//       g + 64 + (t / 8) * 64 + r * 4 + t % 4.
//     w ≈ d * q + m, m = min(w) rounded down to f16, d = (max(w) - m) / 15 rounded up to f16,
//     q = round((w - m) / d) in 0..15.
// One int32 lane then holds one output row: a 4-byte group of 16 rows is one 512-bit vector
// multiplied by 4 broadcast activation bytes (vpdpbusd), so no horizontal sums are needed.
//
// Batch invariance (backend.h): the integer dot of each 32-block is exact, and every y[i, j] is
// then the same float sequence over the blocks b in order,
//   acc = fma(d[j][b], float(dot_b) * dx[i][b], acc)           (Q8)
//   ... then acc = fma(m[j][b], dx[i][b] * float(sum_b x), acc)  (Q4)
// plus the bias, whatever the row tile, column range, thread or ISA path: the AVX2 and the
// AVX-512 VNNI paths give the same bits.
#pragma once

#include <cstdint>
#include <vector>

#include "gpu/backend.h"

namespace pio::cpu {

// Bytes of a [rows, cols] matrix quantised as format (Q8 or Q4), a multiple of 64.
// Throws std::invalid_argument for another format or a negative shape.
int64_t quantized_bytes(WeightFormat format, int64_t rows, int64_t cols);
// Quantises w (Plain f32/bf16/f16) into dst (quantized_bytes bytes, 64-byte aligned), the
// layout above; the same weights always give the same bytes. Throws std::invalid_argument for a
// wrong format or dtype, or a weight whose scale does not fit f16 (|w| ≳ 8e6, NaN).
void quantize_weight(const WeightView& w, WeightFormat format, void* dst);
// The values a quantised weight (w.format Q8 or Q4) stands for, [rows, cols] float32 into out.
void dequantize_weight(const WeightView& w, float* out);

// Activations x [m, k] quantised per row in blocks of 32 along k (zero-padded): q = round(x / d)
// with d = max|x| / 127 per block. A row's values never depend on the other rows.
struct QuantizedRows {
  int64_t m = 0;
  int64_t blocks = 0;       // KB = ceil(k / 32)
  std::vector<int8_t> q;    // [m, KB * 32]
  std::vector<float> d;     // [m, KB] scale
  std::vector<float> ds;    // [m, KB] d * float(sum of the block's q), for Q4's minimum
  std::vector<int32_t> s;   // [m, KB] -128 * sum of the block's q, for the VNNI Q8 offset
};
// Fills out from x [m, k] (out's buffers only grow).
void quantize_rows(const float* x, int64_t m, int64_t k, QuantizedRows& out);
// The two halves of quantize_rows, so that threads can share the rows: sizes out for x [m, k],
// then fills rows [row_begin, row_end) of it.
void size_quantized_rows(int64_t m, int64_t k, QuantizedRows& out);
void quantize_row_range(const float* x, int64_t k, int64_t row_begin, int64_t row_end, QuantizedRows& out);

struct QuantMatmulArgs {
  const QuantizedRows* x = nullptr;  // the m rows of x, quantised
  WeightView w;                      // [n, k], format Q8 or Q4
  WeightView bias;                   // [n] or empty
  float* y = nullptr;                // [m, n]
};

// Output columns [n0, n1) for all rows. Each path is callable directly so tests can compare them.
void quant_matmul_block_avx2(const QuantMatmulArgs& a, int64_t n0, int64_t n1);
// Requires a CPU with AVX-512 VNNI (has_avx512_vnni()).
void quant_matmul_block_avx512_vnni(const QuantMatmulArgs& a, int64_t n0, int64_t n1);

}  // namespace pio::cpu
