// Byte offsets of the quantised weight layouts described in quant.h, shared by the quantiser
// and the kernels.
#pragma once

#include <cstdint>

#include "gpu/backend.h"

namespace pio::cpu::quant_layout {

constexpr int64_t kBlock = 32;      // values along k per scale
constexpr int64_t kPanelRows = 16;  // output rows interleaved in one panel

inline int64_t blocks(int64_t cols) { return (cols + kBlock - 1) / kBlock; }
inline int64_t panels(int64_t rows) { return (rows + kPanelRows - 1) / kPanelRows; }

// Bytes of one block's quants in one panel.
inline int64_t block_quant_bytes(WeightFormat f) { return f == WeightFormat::Q8 ? 512 : 256; }
// Where the f16 scales of block b start inside a panel of kb blocks; Q4's minima follow 32 bytes on.
inline int64_t scale_offset(WeightFormat f, int64_t kb, int64_t b) {
  return f == WeightFormat::Q8 ? kb * 512 + b * 32 : kb * 256 + b * 64;
}
inline int64_t panel_bytes(WeightFormat f, int64_t kb) {
  return f == WeightFormat::Q8 ? kb * 512 + (kb * 32 + 63) / 64 * 64 : kb * 320;
}

}  // namespace pio::cpu::quant_layout
