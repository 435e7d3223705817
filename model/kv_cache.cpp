#include "model/kv_cache.h"

#include <string>

#include "model/errors.h"

namespace pio {

int64_t PagedKvCache::bytes_per_block(KvCacheShape s, int block_size) {
  return 2 * int64_t{s.layers} * block_size * s.kv_heads * s.head_dim * int64_t{sizeof(float)};
}

PagedKvCache::PagedKvCache(KvCacheShape shape, int64_t budget_bytes, int block_size)
    : shape_(shape), block_size_(block_size) {
  if (block_size <= 0) throw ModelError("KV cache block size must be positive");
  total_blocks_ = budget_bytes / bytes_per_block(shape, block_size);
  if (total_blocks_ < 1)
    throw ModelError("KV cache budget of " + std::to_string(budget_bytes) + " bytes holds no block of " +
                     std::to_string(bytes_per_block(shape, block_size)) + " bytes");
  layer_stride_ = total_blocks_ * block_size * shape.kv_heads * shape.head_dim;
  // new[] without () leaves the pages untouched, so resident memory grows only with use.
  k_.reset(new float[static_cast<size_t>(layer_stride_ * shape.layers)]);
  v_.reset(new float[static_cast<size_t>(layer_stride_ * shape.layers)]);
  free_.reserve(static_cast<size_t>(total_blocks_));
  for (int64_t b = total_blocks_ - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

SequenceId PagedKvCache::add_sequence() {
  const SequenceId id = next_id_++;
  seqs_.emplace(id, Sequence{});
  return id;
}

const PagedKvCache::Sequence& PagedKvCache::get(SequenceId seq) const {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) throw ModelError("unknown KV cache sequence " + std::to_string(seq));
  return it->second;
}

PagedKvCache::Sequence& PagedKvCache::get(SequenceId seq) {
  return const_cast<Sequence&>(static_cast<const PagedKvCache*>(this)->get(seq));
}

int64_t PagedKvCache::append(SequenceId seq, int64_t n) {
  Sequence& s = get(seq);
  const int64_t need = blocks_needed(s.length + n) - static_cast<int64_t>(s.blocks.size());
  if (need > free_blocks()) return -1;
  for (int64_t i = 0; i < need; ++i) {
    s.blocks.push_back(free_.back());
    free_.pop_back();
  }
  const int64_t first = s.length;
  s.length += n;
  return first;
}

void PagedKvCache::release(SequenceId seq) {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  for (int32_t b : it->second.blocks) free_.push_back(b);
  seqs_.erase(it);
}

int64_t PagedKvCache::length(SequenceId seq) const { return get(seq).length; }

const int32_t* PagedKvCache::block_table(SequenceId seq) const { return get(seq).blocks.data(); }

PagedKvLayer PagedKvCache::layer(int index) const {
  return PagedKvLayer{k_.get() + index * layer_stride_, v_.get() + index * layer_stride_, block_size_,
                      shape_.kv_heads, shape_.head_dim};
}

}  // namespace pio
