// Paged KV cache: a fixed pool of blocks (block_size token slots each, in every layer),
// sized from a memory budget, and a block table per sequence. Blocks return to the pool when
// a sequence is released. Memory is reserved up front but only touched as blocks fill.
//
// Prefix caching (vLLM's automatic prefix caching): a full block whose tokens are known can be
// registered under its hash; a sequence that starts with the same tokens shares it (blocks are
// reference counted). A released registered block is retained, still findable by hash, until
// the pool needs it: allocation takes never-registered free blocks first, then the retained
// block released longest ago. Retained blocks count as free.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gpu/backend.h"

namespace pio {

// The cache's layers and rows, and the element type its K and V are kept in (gpu/kv_dtype.h).
struct KvCacheShape {
  int layers = 0;
  int kv_heads = 0;
  int head_dim = 0;
  KvDType dtype = KvDType::F32;
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

  // Prefix caching. A block's hash names its contents and every token before it.
  // Registers block `index` of seq (full and computed) under hash, unless it or another block
  // already carries that hash.
  void register_block(SequenceId seq, int64_t index, const std::string& hash);
  bool has_block(const std::string& hash) const { return by_hash_.count(hash) > 0; }
  // Appends the registered block to seq (whose length must be a whole number of blocks): its
  // length grows by block_size. False (nothing changed) when no block has that hash.
  bool share_block(SequenceId seq, const std::string& hash);
  // A block's keys and values in every layer, as bytes (what the tiered cache stores): one
  // byte naming the KV dtype, then per layer the block's K rows then its V rows, as stored.
  std::string export_block(SequenceId seq, int64_t index) const;
  // Appends a block filled from export_block's bytes to seq (length a whole number of blocks).
  // False (nothing changed) when no block is free or the bytes have another size or another
  // KV dtype (a bf16 block is never read as f16).
  bool load_block(SequenceId seq, std::string_view bytes);
  int64_t retained_blocks() const { return static_cast<int64_t>(retained_.size()); }
  // Memory pressure: forgets every retained block (they become plain free blocks).
  void drop_retained();

  int64_t length(SequenceId seq) const;
  const int32_t* block_table(SequenceId seq) const;
  PagedKvLayer layer(int index) const;

  int block_size() const { return block_size_; }
  int64_t total_blocks() const { return total_blocks_; }
  int64_t free_blocks() const { return static_cast<int64_t>(free_.size() + retained_.size()); }
  // Blocks ever taken (the pool's high-water mark): their pages stay resident once touched, so
  // the memory check subtracts the free ones among them from RSS.
  int64_t touched_blocks() const { return touched_blocks_; }
  int64_t blocks_needed(int64_t tokens) const { return (tokens + block_size_ - 1) / block_size_; }
  KvDType dtype() const { return shape_.dtype; }
  // K and V of one block in every layer: 2 · layers · block_size · kv_heads · kv_row_bytes.
  static int64_t bytes_per_block(KvCacheShape shape, int block_size);
  int64_t bytes_per_block() const { return bytes_per_block(shape_, block_size_); }

 private:
  struct Sequence {
    int64_t length = 0;
    std::vector<int32_t> blocks;
  };
  const Sequence& get(SequenceId seq) const;
  Sequence& get(SequenceId seq);
  // A block for a sequence: a free one, else the retained one released longest ago (forgotten).
  int32_t take_block();
  void unregister(int32_t block);

  KvCacheShape shape_;
  int block_size_;
  int64_t total_blocks_;
  int64_t touched_blocks_ = 0;
  int64_t block_bytes_;   // one block of K (or V) in one layer
  int64_t layer_stride_;  // bytes per layer in k_ and v_
  std::unique_ptr<std::byte[]> k_, v_;
  std::vector<int32_t> free_;            // never registered (or forgotten)
  std::list<int32_t> retained_;          // registered, no reference: oldest release first
  std::vector<int32_t> refs_;            // per block: sequences holding it
  std::vector<std::string> hash_of_;     // per block: its hash, empty when unregistered
  std::vector<std::list<int32_t>::iterator> retained_at_;  // per block: its place in retained_
  std::unordered_map<std::string, int32_t> by_hash_;
  std::unordered_map<SequenceId, Sequence> seqs_;
  SequenceId next_id_ = 0;
};

}  // namespace pio
