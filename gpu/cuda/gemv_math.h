// The per-thread arithmetic of the CUDA matmul kernels (gemv.cu, gemm_tiled.cu and the
// conversions of gemm_cublas.cu), as host/device functions of explicit indices: the kernels call
// them on the device; tests/gpu/test_cuda_gemv_math.cpp runs them on the CPU over every block,
// thread and barrier-separated phase (tests/gpu/cuda_matmul_emulation.h).
//
// Batch invariance. Every output y[i, n] is one fixed sequence of float operations on row i of x
// and row n of W, whatever the number of rows m, the other rows, or the grid:
//  * dense weights (bf16, f16, f32): lane l (0..31) of a warp accumulates chunks c = l, l + 32,
//    l + 64, ... of 8 columns (columns 8c .. 8c + 7 below k), one fmaf per column in order; the
//    32 lane partials are then summed by the butterfly tree (warp_tree_sum). The decode GEMV and
//    the deterministic tiled GEMM both compute exactly this, so they give the same bits, and a
//    weight converted exactly (bf16 -> f32) gives the same bits as the original.
//  * Q8/Q4 weights (the CPU's panels, gpu/cpu/quant.h): thread (r, s) of a panel's 256 threads
//    (output row r of the panel's 16, split s of 16) takes the 32-blocks b = s, s + 16, ...; the
//    block's integer dot product (dp4a, exact) then the CPU's float steps
//      acc = fmaf(d[r][b], float(dot) * dx[i][b], acc)       (Q8 and Q4)
//      acc = fmaf(m[r][b], ds[i][b], acc)                    (Q4)
//    and the 16 split partials are summed by a fixed tree (quant_split_tree_sum). The activation
//    quantisation is the CPU's (quantize_rows) bit for bit; the split differs from the CPU's
//    sequential order, so the results differ from the CPU's by float rounding only.
// No operation depends on m: no split-K chosen from the shape. Every multiply-add is an explicit
// fmaf and no other product feeds an addition, so the host compiler's and nvcc's contraction
// cannot change a result; divisions must stay IEEE (nvcc's default: no --use_fast_math).
#pragma once

#include <cstdint>
#include <cstring>

#include "gpu/dtype.h"
#include "gpu/kernel_math.h"
#include "gpu/quant_offsets.h"

#ifdef __CUDA_ARCH__
#define PIO_UNROLL _Pragma("unroll")
#define PIO_UNROLL_4 _Pragma("unroll 4")
#else
#define PIO_UNROLL
#define PIO_UNROLL_4
#endif

namespace pio::cuda_math {

constexpr int kWarp = 32;
constexpr int kChunk = 8;                     // dense columns per lane per step
constexpr int kStepCols = kWarp * kChunk;     // 256 columns: one chunk per lane
constexpr int kMaxRows = 16;                  // x rows one GEMV pass holds in registers
constexpr int kGemvWarps = 4;                 // dense GEMV: warps (outputs) per block
constexpr int kPanelRows = 16;                // Q8/Q4 output rows per panel
constexpr int kQuantSplits = 16;              // Q8/Q4: block-interleaved partials per output
constexpr int kQuantThreads = kPanelRows * kQuantSplits;  // 256: one panel per block
constexpr int kQuantWarps = kQuantThreads / kWarp;        // 8
constexpr int kQBlock = 32;                   // values per quantisation block

PIO_HD int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---- Shared reductions ----------------------------------------------------------------------

// One step of every tree: own value plus partner's (a + b == b + a exactly, so both partners of
// a butterfly hold the same bits).
PIO_HD float tree_add(float own, float other) { return own + other; }

// The butterfly's xor offsets are 16, 8, 4, 2, 1 in that order.

// Host emulation of one butterfly phase over the 32 lane values of a warp (what
// __shfl_xor_sync does on the device): out[l] = tree_add(in[l], in[l ^ offset]).
PIO_HD void butterfly_phase(const float* in, float* out, int offset) {
  for (int l = 0; l < kWarp; ++l) out[l] = tree_add(in[l], in[l ^ offset]);
}

#ifdef __CUDACC__
// The sum of the warp's 32 lane values, the same in every lane (all 32 lanes must call it).
__device__ inline float warp_tree_sum(float v) {
  PIO_UNROLL
  for (int o = kWarp / 2; o >= 1; o /= 2) v = tree_add(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
#endif

// The same sum from 32 lane values on the host: the phases of warp_tree_sum.
inline float lanes_tree_sum(const float* lanes) {
  float a[kWarp], b[kWarp];
  std::memcpy(a, lanes, sizeof a);
  for (int o = kWarp / 2; o >= 1; o /= 2) {
    butterfly_phase(a, b, o);
    std::memcpy(a, b, sizeof a);
  }
  return a[0];
}

// y = sum (+ bias[n] when bias is set).
PIO_HD float finish(float sum, const float* bias, int64_t n) { return bias ? sum + bias[n] : sum; }

// ---- Dense weights ---------------------------------------------------------------------------

template <DType T>
PIO_HD float dense_at(const void* w, int64_t i) {
  if constexpr (T == DType::F32) return static_cast<const float*>(w)[i];
  else if constexpr (T == DType::BF16) return math::bf16_to_f32(static_cast<const uint16_t*>(w)[i]);
  else return math::f16_to_f32(static_cast<const uint16_t*>(w)[i]);
}

// acc = fmaf(x[e], w[e], acc) for e = 0 .. n - 1 in order: one lane's chunk for one output.
PIO_HD float chunk_fma(float acc, const float* x, const float* w, int n) {
  PIO_UNROLL
  for (int e = 0; e < kChunk; ++e)
    if (e < n) acc = fmaf(x[e], w[e], acc);
  return acc;
}

// Columns of chunk c that lie below k (0..8).
PIO_HD int chunk_len(int64_t c, int64_t k) {
  const int64_t left = k - c * kChunk;
  return left >= kChunk ? kChunk : (left > 0 ? static_cast<int>(left) : 0);
}

// The len (<= 8) values of a chunk into out (0 past len). On the device a full chunk at a 16-byte
// aligned address is read with vector loads: the values are the same.
PIO_HD void load_x_chunk(const float* p, int len, float* out) {
#ifdef __CUDA_ARCH__
  if (len == kChunk && reinterpret_cast<uintptr_t>(p) % 16 == 0) {
    const float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
    out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w, out[4] = b.x, out[5] = b.y, out[6] = b.z, out[7] = b.w;
    return;
  }
#endif
  PIO_UNROLL
  for (int e = 0; e < kChunk; ++e) out[e] = e < len ? p[e] : 0.0f;
}

// Elements [i, i + len) of a dense weight as floats (0 past len); vector loads as above.
template <DType T>
PIO_HD void load_w_chunk(const void* w, int64_t i, int len, float* out) {
  if constexpr (T == DType::F32) {
    load_x_chunk(static_cast<const float*>(w) + i, len, out);
  } else {
    const uint16_t* p = static_cast<const uint16_t*>(w) + i;
#ifdef __CUDA_ARCH__
    if (len == kChunk && reinterpret_cast<uintptr_t>(p) % 16 == 0) {
      const uint4 v = *reinterpret_cast<const uint4*>(p);
      const uint32_t words[4] = {v.x, v.y, v.z, v.w};
      PIO_UNROLL
      for (int e = 0; e < kChunk; ++e) {
        const auto h = static_cast<uint16_t>(words[e / 2] >> (16 * (e % 2)));
        out[e] = T == DType::BF16 ? math::bf16_to_f32(h) : math::f16_to_f32(h);
      }
      return;
    }
#endif
    PIO_UNROLL
    for (int e = 0; e < kChunk; ++e) out[e] = e < len ? dense_at<T>(p, e) : 0.0f;
  }
}

// Lane `lane`'s partials of outputs (i, n) for rows i < m (m <= kMaxRows) of x [m, k] (row
// stride k) and weight row w_row (k elements of type T): acc[i] over the chunks c = lane,
// lane + 32, ... (acc[i] starts at 0 here).
template <DType T>
PIO_HD void dense_lane_partials(const float* x, int m, const void* w_row, int64_t k, int lane, float* acc) {
  PIO_UNROLL
  for (int i = 0; i < kMaxRows; ++i) acc[i] = 0.0f;
  PIO_UNROLL_4  // four chunks' loads in flight per lane (the order of the sums is unchanged)
  for (int64_t c = lane; c * kChunk < k; c += kWarp) {
    const int len = chunk_len(c, k);
    float w[kChunk];
    load_w_chunk<T>(w_row, c * kChunk, len, w);
    PIO_UNROLL
    for (int i = 0; i < kMaxRows; ++i) {
      if (i < m) {
        float xv[kChunk];
        load_x_chunk(x + i * k + c * kChunk, len, xv);
        acc[i] = chunk_fma(acc[i], xv, w, len);
      }
    }
  }
}

// The dtype of bf16 weights that a device of compute capability major suits best for the dense
// kernels: BF16 from SM80 on (bf16 tensor cores), F16 on SM70-SM75 (f16 tensor cores; a weight
// beyond ±65504 becomes ±inf), F32 below (Pascal: f16 runs at 1/64 of the f32 rate; bf16 -> f32
// is exact, and the GEMV/deterministic results are then those of bf16). The device tests and the
// matmul benchmark measure in it; the model's runners upload bf16 weights unconverted.
inline DType dense_weight_dtype(int cc_major) {
  if (cc_major >= 8) return DType::BF16;
  if (cc_major == 7) return DType::F16;
  return DType::F32;
}

// Weight conversion at upload (bf16 -> F16: round to nearest even; BF16: unchanged) and the
// activation rounding of the cuBLAS path (F16 or BF16, round to nearest even).
PIO_HD uint16_t convert_bf16_weight(uint16_t w, DType dtype) {
  return dtype == DType::F16 ? math::f32_to_f16(math::bf16_to_f32(w)) : w;
}
PIO_HD uint16_t round_activation(float v, DType dtype) {
  return dtype == DType::F16 ? math::f32_to_f16(v) : math::f32_to_bf16(v);
}

// ---- Deterministic tiled GEMM (dense weights) ------------------------------------------------
// A block of kTileWarps warps computes a kTileRows x kTileCols tile of y; warp (wm, wn) holds
// kWarpRows x kWarpCols outputs and its lane l the partial of chunk l of every 256-column step,
// so each output is the GEMV's lane partials and tree exactly. Per step the block stages x
// [kTileRows, 256] (f32) and W [kTileCols, 256] (as f32, exact) in shared memory, element
// (row, col) of the step at tile_slot(row, col): lane-major, so lane l reads consecutive words.
constexpr int kWarpRows = 8;
constexpr int kWarpCols = 8;
constexpr int kTileWarpsM = 2;
constexpr int kTileWarpsN = 2;
constexpr int kTileWarps = kTileWarpsM * kTileWarpsN;
constexpr int kTileThreads = kTileWarps * kWarp;   // 128
constexpr int kTileRows = kWarpRows * kTileWarpsM;  // 16
constexpr int kTileCols = kWarpCols * kTileWarpsN;  // 16

PIO_HD int tile_slot(int row, int col) { return (row * kChunk + col % kChunk) * kWarp + col / kChunk; }

// Thread t's share of staging step s: the chunks (row, l) = (j / 32, j % 32) for j = t, t + 128,
// ... of the x tile (rows i0 ..) and of the W tile (outputs n0 ..), each read whole (the GEMV's
// loads: 32 or 16 bytes) and written to 8 slots that consecutive lanes' l keep apart (no bank
// conflicts); zero outside [m, k] / [n, k].
template <DType T>
PIO_HD void tile_stage(const float* x, int64_t m, const void* w, int64_t n, int64_t k, int64_t i0, int64_t n0,
                       int64_t s, int t, float* xs, float* ws) {
  for (int j = t; j < (kTileRows + kTileCols) * kWarp; j += kTileThreads) {
    const bool is_x = j < kTileRows * kWarp;
    const int row = (is_x ? j : j - kTileRows * kWarp) / kWarp, l = j % kWarp;
    const int64_t c = s * kWarp + l;  // the chunk's index along k
    float v[kChunk];
    if (is_x && i0 + row < m) load_x_chunk(x + (i0 + row) * k + c * kChunk, chunk_len(c, k), v);
    else if (!is_x && n0 + row < n) load_w_chunk<T>(w, (n0 + row) * k + c * kChunk, chunk_len(c, k), v);
    else
      for (float& e : v) e = 0.0f;
    float* dst = is_x ? xs : ws;
    PIO_UNROLL
    for (int e = 0; e < kChunk; ++e) dst[tile_slot(row, l * kChunk + e)] = v[e];
  }
}

// Lane `lane` of warp (wm, wn) adds its chunk of step s to acc[r][c] (output row
// wm * 8 + r, column wn * 8 + c of the tile): per output, fmaf over the chunk's columns in order.
PIO_HD void tile_step(const float* xs, const float* ws, int64_t k, int64_t s, int wm, int wn, int lane,
                      float (&acc)[kWarpRows][kWarpCols]) {
  const int len = chunk_len(s * kWarp + lane, k);
  for (int e = 0; e < len; ++e) {
    float xv[kWarpRows], wv[kWarpCols];
    PIO_UNROLL
    for (int r = 0; r < kWarpRows; ++r) xv[r] = xs[tile_slot(wm * kWarpRows + r, lane * kChunk + e)];
    PIO_UNROLL
    for (int c = 0; c < kWarpCols; ++c) wv[c] = ws[tile_slot(wn * kWarpCols + c, lane * kChunk + e)];
    PIO_UNROLL
    for (int r = 0; r < kWarpRows; ++r) {
      PIO_UNROLL
      for (int c = 0; c < kWarpCols; ++c) acc[r][c] = fmaf(xv[r], wv[c], acc[r][c]);
    }
  }
}

// ---- Activation quantisation (the CPU's quantize_rows, bit for bit) ---------------------------
// x [m, k] -> q [m, KB * 32] int8, d [m, KB], ds [m, KB] with KB = ceil(k / 32). Lane t of the
// warp of (row i, block b) holds value x[i, 32b + t] (0 past k); amax and the sum of q are
// butterfly reductions (max and integer addition: exact in any order).

// The block's value at lane t.
PIO_HD float quant_input(const float* x, int64_t k, int64_t i, int64_t b, int t) {
  const int64_t c = b * kQBlock + t;
  return c < k ? x[i * k + c] : 0.0f;
}

// q = round-to-nearest-even(v * (127 / amax)), saturated to int8 (as vcvtps2dq + vpacksswb).
PIO_HD int8_t quant_value(float v, float amax) {
  const float inv = amax == 0.0f ? 0.0f : 127.0f / amax;
  const float p = v * inv;
#ifdef __CUDA_ARCH__
  int q = __float2int_rn(p);
#else
  int q = static_cast<int>(std::nearbyint(p));
#endif
  q = q < -128 ? -128 : (q > 127 ? 127 : q);
  return static_cast<int8_t>(q);
}

PIO_HD float quant_scale(float amax) { return amax / 127.0f; }
PIO_HD float quant_scaled_sum(float d, int32_t sum) { return d * static_cast<float>(sum); }

// ---- Q8/Q4 weights ----------------------------------------------------------------------------

PIO_HD int32_t dp4a(int32_t a, int32_t b, int32_t c) {
#ifdef __CUDA_ARCH__
  return __dp4a(a, b, c);
#else
  for (int j = 0; j < 4; ++j)
    c += static_cast<int32_t>(static_cast<int8_t>(a >> (8 * j))) * static_cast<int8_t>(b >> (8 * j));
  return c;
#endif
}

PIO_HD int32_t load_i32(const void* p) {
#ifdef __CUDA_ARCH__
  return *static_cast<const int32_t*>(p);
#else
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
#endif
}

PIO_HD float load_f16(const uint8_t* p) {
#ifdef __CUDA_ARCH__
  return math::f16_to_f32(*reinterpret_cast<const uint16_t*>(p));
#else
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return math::f16_to_f32(h);
#endif
}

// Bytes of one 16-row panel of a [n, k] quantised weight.
PIO_HD int64_t quant_panel_bytes(bool q4, int64_t k) {
  const int64_t kb = ceil_div(k, kQBlock);
  return q4 ? quant_offsets::q4_panel_bytes(kb) : quant_offsets::q8_panel_bytes(kb);
}

// Panel row r's block b: Q8 its 8 words of 4 int8 quants (values 4j .. 4j + 3 in word j), Q4
// its 4 words of 8 nibbles (values 8j .. 8j + 3 low, 8j + 4 .. 8j + 7 high) in wq[0..3].
PIO_HD void load_weight_block(bool q4, const uint8_t* panel, int64_t b, int r, int32_t* wq) {
  const uint8_t* qp = panel + (q4 ? quant_offsets::q4_quant(b) : quant_offsets::q8_quant(b)) + r * 4;
  PIO_UNROLL
  for (int j = 0; j < 8; ++j)
    if (!q4 || j < 4) wq[j] = load_i32(qp + j * 64);
}

// The 32 int8 of one quantised x block as 8 words (the device reads 16 bytes at a time: the
// workspace is 16-byte aligned and each block is 32 bytes).
PIO_HD void load_x_block(const int8_t* xq, int32_t* xw) {
#ifdef __CUDA_ARCH__
  const int4 a = reinterpret_cast<const int4*>(xq)[0], c = reinterpret_cast<const int4*>(xq)[1];
  xw[0] = a.x, xw[1] = a.y, xw[2] = a.z, xw[3] = a.w, xw[4] = c.x, xw[5] = c.y, xw[6] = c.z, xw[7] = c.w;
#else
  std::memcpy(xw, xq, 8 * sizeof(int32_t));
#endif
}

// The exact integer dot product of a weight block (load_weight_block) with an x block.
PIO_HD int32_t block_dot(bool q4, const int32_t* wq, const int32_t* xw) {
  int32_t dot = 0;
  if (q4) {
    PIO_UNROLL
    for (int j = 0; j < 4; ++j) {
      dot = dp4a(wq[j] & 0x0f0f0f0f, xw[2 * j], dot);
      dot = dp4a((wq[j] >> 4) & 0x0f0f0f0f, xw[2 * j + 1], dot);
    }
  } else {
    PIO_UNROLL
    for (int j = 0; j < 8; ++j) dot = dp4a(wq[j], xw[j], dot);
  }
  return dot;
}

// Thread (r, s)'s partials acc[i], i < m (m <= kMaxRows), over the blocks b = s, s + 16, ... of
// one panel; xq [m, KB * 32], xd and xds [m, KB] are x quantised (above).
PIO_HD void quant_thread_partials(bool q4, const uint8_t* panel, const int8_t* xq, const float* xd,
                                  const float* xds, int64_t kb, int m, int r, int s, float* acc) {
  PIO_UNROLL
  for (int i = 0; i < kMaxRows; ++i) acc[i] = 0.0f;
  for (int64_t b = s; b < kb; b += kQuantSplits) {
    const uint8_t* sc = panel + (q4 ? quant_offsets::q4_scale(b) : quant_offsets::q8_scale(b)) + r * 2;
    const float d = load_f16(sc);
    const float mn = q4 ? load_f16(sc + 32) : 0.0f;
    int32_t wq[8] = {};
    load_weight_block(q4, panel, b, r, wq);
    PIO_UNROLL
    for (int i = 0; i < kMaxRows; ++i) {
      if (i < m) {
        int32_t xw[8];
        load_x_block(xq + (i * kb + b) * kQBlock, xw);
        const float t = static_cast<float>(block_dot(q4, wq, xw)) * xd[i * kb + b];
        acc[i] = fmaf(d, t, acc[i]);
        if (q4) acc[i] = fmaf(mn, xds[i * kb + b], acc[i]);
      }
    }
  }
}

// Element (row, col) of a quantised weight [n, k]: the value cpu::dequantize_weight gives (Q8
// d·q; Q4 d·q + m, where d·q is exact so fmaf rounds once as the CPU's expression does).
PIO_HD float quant_weight_value(bool q4, const uint8_t* w, int64_t k, int64_t row, int64_t col) {
  const uint8_t* panel = w + row / kPanelRows * quant_panel_bytes(q4, k);
  const int64_t b = col / kQBlock, t = col % kQBlock, r = row % kPanelRows;
  const uint8_t* sc = panel + (q4 ? quant_offsets::q4_scale(b) : quant_offsets::q8_scale(b)) + r * 2;
  if (!q4) {
    const auto q = static_cast<int8_t>(panel[quant_offsets::q8_quant(b) + t / 4 * 64 + r * 4 + t % 4]);
    return load_f16(sc) * static_cast<float>(q);
  }
  const uint8_t byte = panel[quant_offsets::q4_quant(b) + t / 8 * 64 + r * 4 + t % 4];
  const int q = t % 8 < 4 ? byte & 15 : byte >> 4;
  return fmaf(load_f16(sc), static_cast<float>(q), load_f16(sc + 32));
}

// The 16 split partials of one output: thread t = s * 16 + r sits in warp t / 32, lane t % 32,
// so the xor-16 butterfly step adds splits 2w and 2w + 1 (warp w); then shared memory
// red[w] (one value per warp) is halved in barrier-separated phases o = 4, 2, 1:
// red[w] = tree_add(red[w], red[w + o]) for w < o.

// The same sum on the host from the 16 split partials, following those phases.
inline float quant_split_tree_sum(const float* split) {
  float red[kQuantWarps];
  for (int w = 0; w < kQuantWarps; ++w) red[w] = tree_add(split[2 * w], split[2 * w + 1]);
  for (int o = kQuantWarps / 2; o >= 1; o /= 2)
    for (int w = 0; w < o; ++w) red[w] = tree_add(red[w], red[w + o]);
  return red[0];
}

}  // namespace pio::cuda_math
