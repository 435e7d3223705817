// The paged KV cache's blocks, without their bytes (those are KvStorage's): block ids, each
// sequence's block table and length, reference counts, the prefix-hash index and the retained
// blocks. The scheduler owns one and takes every block a step needs before the step runs; the
// forward pass only reads and writes the blocks named in its plan.
//
// Prefix caching (vLLM's automatic prefix caching): a full block whose tokens are known can be
// registered under its hash; a sequence that starts with the same tokens shares it (blocks are
// reference counted). A released registered block is retained, still findable by hash, until
// the pool needs it: allocation takes never-registered free blocks first, then the retained
// block released longest ago. Retained blocks count as free. Plain class, not thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace pio {

using SequenceId = int64_t;

class KvBlockPool {
 public:
  // Throws ModelError when total_blocks or block_size is not positive.
  KvBlockPool(int64_t total_blocks, int block_size);

  SequenceId add_sequence();
  // Extends the sequence by n slots, taking blocks as needed. Returns the first new slot,
  // or -1 (and changes nothing) when the pool has too few free blocks.
  int64_t append(SequenceId seq, int64_t n);
  // Appends one fresh block to seq (whose length must be a whole number of blocks; its length
  // grows by block_size) for the caller to fill. Returns its id, or -1 (nothing changed) when no
  // block is free or the length is not whole blocks.
  int32_t append_block(SequenceId seq);
  // Frees the sequence's blocks (registered ones are retained); an unknown id is ignored.
  void release(SequenceId seq);

  // Prefix caching. A block's hash names its contents and every token before it.
  // Registers block `index` of seq (full and computed) under hash, unless it or another block
  // already carries that hash. Throws ModelError when that block is not full.
  void register_block(SequenceId seq, int64_t index, const std::string& hash);
  bool has_block(const std::string& hash) const { return by_hash_.count(hash) > 0; }
  // Appends the registered block to seq (whose length must be a whole number of blocks): its
  // length grows by block_size. False (nothing changed) when no block has that hash.
  bool share_block(SequenceId seq, const std::string& hash);
  int64_t retained_blocks() const { return static_cast<int64_t>(retained_.size()); }
  // Memory pressure: forgets every retained block (they become plain free blocks).
  void drop_retained();

  // Throw ModelError for an unknown sequence.
  int64_t length(SequenceId seq) const;
  // The sequence's physical block ids, one per logical block; valid until it changes.
  std::span<const int32_t> block_table(SequenceId seq) const;

  int block_size() const { return block_size_; }
  int64_t total_blocks() const { return total_blocks_; }
  int64_t free_blocks() const { return static_cast<int64_t>(free_.size() + retained_.size()); }
  // Blocks ever taken (the pool's high-water mark): their pages stay resident once touched, so
  // the memory check subtracts the free ones among them from RSS.
  int64_t touched_blocks() const { return touched_blocks_; }
  int64_t blocks_needed(int64_t tokens) const { return (tokens + block_size_ - 1) / block_size_; }

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

  int block_size_;
  int64_t total_blocks_;
  int64_t touched_blocks_ = 0;
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
