// Paged KV cache: a fixed pool of blocks (block_size token slots each, in every layer),
// sized from a memory budget, and a block table per sequence. Blocks return to the pool when
// a sequence is released. Memory is reserved up front but only touched as blocks fill.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "gpu/backend.h"

namespace pio {

struct KvCacheShape {
  int layers = 0;
  int kv_heads = 0;
  int head_dim = 0;
};

using SequenceId = int64_t;

class PagedKvCache {
 public:
  // Throws ModelError when the budget cannot hold a single block.
  PagedKvCache(KvCacheShape shape, int64_t budget_bytes, int block_size = 16);

  SequenceId add_sequence();
  // Extends the sequence by n slots, taking blocks as needed. Returns the first new slot,
  // or -1 (and changes nothing) when the pool has too few free blocks.
  int64_t append(SequenceId seq, int64_t n);
  void release(SequenceId seq);

  int64_t length(SequenceId seq) const;
  const int32_t* block_table(SequenceId seq) const;
  PagedKvLayer layer(int index) const;

  int block_size() const { return block_size_; }
  int64_t total_blocks() const { return total_blocks_; }
  int64_t free_blocks() const { return static_cast<int64_t>(free_.size()); }
  int64_t blocks_needed(int64_t tokens) const { return (tokens + block_size_ - 1) / block_size_; }
  static int64_t bytes_per_block(KvCacheShape shape, int block_size);

 private:
  struct Sequence {
    int64_t length = 0;
    std::vector<int32_t> blocks;
  };
  const Sequence& get(SequenceId seq) const;
  Sequence& get(SequenceId seq);

  KvCacheShape shape_;
  int block_size_;
  int64_t total_blocks_;
  int64_t layer_stride_;  // floats per layer in k_ and v_
  std::unique_ptr<float[]> k_, v_;
  std::vector<int32_t> free_;
  std::unordered_map<SequenceId, Sequence> seqs_;
  SequenceId next_id_ = 0;
};

}  // namespace pio
