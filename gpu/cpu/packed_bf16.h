// bf16 weights in column panels for the tiled GEMM: the layout, the packer and the two
// kernels that read it.
//
// Layout: the weight's rows (the outputs) in panels of kPanelWidth = 16, the last one
// zero-padded; cols (the inputs) in pairs, an odd last one padded with zero. A panel's pair is
// 16 x 2 bf16: output 16p + c's inputs 2j and 2j + 1 at [2c] and [2c + 1], 64 bytes, one zmm
// register: the operand vdpbf16ps multiplies by a broadcast pair of x, so a 16-lane accumulator
// holds 16 outputs and nothing is reduced across lanes. Panels are interleaved in groups of
// kGroupPanels (the last group may be narrower): a group stores pair 0 of each of its panels,
// then pair 1 of each, and so on, so a tile of up to a group's panels reads one contiguous
// stream, which is what a decode step (one row of x) needs to run at memory speed.
//
// Batch invariance: every output y[i, j] is its own accumulator, updated once per input pair in
// pair order from zero, then + bias; the same whatever tile or task holds it and whatever m is.
#pragma once

#include <cstdint>

#include "gpu/backend.h"
#include "gpu/cpu/matmul.h"

namespace pio::cpu {

constexpr int64_t kPanelWidth = 16;
constexpr int64_t kGroupPanels = 8;

inline int64_t packed_bf16_pairs(int64_t cols) { return (cols + 1) / 2; }
inline int64_t packed_bf16_panels(int64_t rows) { return (rows + kPanelWidth - 1) / kPanelWidth; }
inline int64_t packed_bf16_bytes(int64_t rows, int64_t cols) {
  return packed_bf16_panels(rows) * packed_bf16_pairs(cols) * kPanelWidth * 2 * 2;
}

// Where panel p's pair 0 starts (in bf16 elements), and the distance from one of its pairs to the
// next: its group's width x 32.
struct PanelAddress {
  int64_t offset;
  int64_t pair_stride;
};
inline PanelAddress packed_bf16_panel(int64_t p, int64_t panels, int64_t pairs) {
  const int64_t group = p / kGroupPanels;
  const int64_t width = panels - group * kGroupPanels < kGroupPanels ? panels - group * kGroupPanels : kGroupPanels;
  return {group * kGroupPanels * pairs * 32 + (p % kGroupPanels) * 32, width * 32};
}

// Rounds w (Plain f32/bf16/f16) to bf16 (nearest even) and writes it in panels to dst
// (packed_bf16_bytes(w.rows, w.cols) bytes).
void pack_bf16(const WeightView& w, void* dst);

// Output columns of the panels [p0, p1) for all rows, a.w in BF16Packed format; p0 and p1 are
// multiples of kGroupPanels (or p1 the last panel).
// AVX-512 BF16: needs a.x_bf16, x rounded to bf16 with row stride 2 * packed_bf16_pairs(k)
// (an odd k's pad zeroed); only on CPUs with AVX-512 BF16.
void matmul_panels_avx512_bf16(const MatmulArgs& a, int64_t p0, int64_t p1);
// AVX2 + FMA: reads x in float32, widening the weights two bf16 at a time (for 64+ rows, a block
// of panels at a time into float32 that every row tile then reads).
void matmul_panels_avx2(const MatmulArgs& a, int64_t p0, int64_t p1);

}  // namespace pio::cpu
