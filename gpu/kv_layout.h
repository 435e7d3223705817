// Where a row of a paged KV layer lies, for the CPU kernels and the CUDA kernels alike.
#pragma once

#include <cstdint>

#include "gpu/kernel_math.h"

namespace pio {

// Byte offset of the row (physical slot, KV head) of a layer whose blocks hold block_size slots:
// a block is kv_heads runs of block_size rows, head 0's run first, so each head's rows of a block
// are one contiguous stream. Attention reads one head's rows at a time; 256-byte rows kv_heads
// apart (slot-major) read at a fifth of the memory's pace on Zen 4, contiguous runs at its full
// pace. A block is still one contiguous range of block_size · kv_heads rows.
PIO_HD int64_t kv_row_offset(int64_t phys_slot, int head, int block_size, int kv_heads, int64_t row_bytes) {
  const int64_t block = phys_slot / block_size;
  return ((block * kv_heads + head) * block_size + phys_slot % block_size) * row_bytes;
}

}  // namespace pio
