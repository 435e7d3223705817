// Byte offsets of the quantised weight layouts described in quant.h, shared by the quantiser
// and the kernels.
#pragma once

#include <cstdint>

#include "gpu/backend.h"
#include "gpu/quant_offsets.h"

namespace pio::cpu::quant_layout {

constexpr int64_t kBlock = 32;      // values along k per scale
constexpr int64_t kPanelRows = 16;  // output rows interleaved in one panel

inline int64_t blocks(int64_t cols) { return (cols + kBlock - 1) / kBlock; }
inline int64_t panels(int64_t rows) { return (rows + kPanelRows - 1) / kPanelRows; }

// Each panel is one sequential stream that the decode kernels read front to back and the hardware
// prefetchers follow (software prefetches on top cost decode a fifth of its speed on Zen 4): Q8
// keeps two blocks' scales (64 bytes) before their quants (2 x 512), Q4 one block's scales and minima
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
}  // namespace pio::cpu::quant_layout
