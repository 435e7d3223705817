// Byte offsets of the quantised weight layouts described in quant.h, shared by the quantiser
// and the kernels.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "gpu/backend.h"
#include "gpu/quant_offsets.h"

namespace pio::cpu::quant_layout {

constexpr int64_t kBlock = 32;      // values along k per scale
constexpr int64_t kPanelRows = 16;  // output rows interleaved in one panel

inline int64_t blocks(int64_t cols) { return (cols + kBlock - 1) / kBlock; }
inline int64_t panels(int64_t rows) { return (rows + kPanelRows - 1) / kPanelRows; }

// Each panel is one sequential stream (the decode kernels read it front to back): Q8 keeps two
// blocks' scales (64 bytes) before their quants (2 x 512), Q4 one block's scales and minima
// (64 bytes) before its quants (256).
inline int64_t quant_offset(WeightFormat f, int64_t b) {
  return f == WeightFormat::Q8 ? quant_offsets::q8_quant(b) : quant_offsets::q4_quant(b);
}
// Where block b's 16 f16 scales lie in a panel; Q4's 16 minima follow 32 bytes on.
inline int64_t scale_offset(WeightFormat f, int64_t b) {
  return f == WeightFormat::Q8 ? quant_offsets::q8_scale(b) : quant_offsets::q4_scale(b);
}
inline int64_t panel_bytes(WeightFormat f, int64_t kb) {
  return f == WeightFormat::Q8 ? quant_offsets::q8_panel_bytes(kb) : quant_offsets::q4_panel_bytes(kb);
}
// Decode streams the weights from memory once: asks for block b's bytes kPrefetchBlocks blocks
// ahead of their use (a prefetch past the buffer's end never faults).
constexpr int64_t kPrefetchBlocks = 6;
inline void prefetch_ahead(const uint8_t* panel, WeightFormat f, int64_t b) {
  const int64_t block_bytes = f == WeightFormat::Q8 ? 544 : 320;
  const uint8_t* p = panel + (b + kPrefetchBlocks) * block_bytes;
  for (int64_t off = 0; off < block_bytes + 63; off += 64) _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T0);
}

}  // namespace pio::cpu::quant_layout
