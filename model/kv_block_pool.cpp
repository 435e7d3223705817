#include "model/kv_block_pool.h"

#include <algorithm>
#include <string>

#include "model/errors.h"

namespace pio {

KvBlockPool::KvBlockPool(int64_t total_blocks, int block_size) : block_size_(block_size), total_blocks_(total_blocks) {
  if (block_size <= 0) throw ModelError("KV cache block size must be positive");
  if (total_blocks <= 0) throw ModelError("KV cache must hold at least one block");
  free_.reserve(static_cast<size_t>(total_blocks_));
  for (int64_t b = total_blocks_ - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
  refs_.assign(static_cast<size_t>(total_blocks_), 0);
  hash_of_.resize(static_cast<size_t>(total_blocks_));
  retained_at_.assign(static_cast<size_t>(total_blocks_), retained_.end());
}

int32_t KvBlockPool::take_block() {
  int32_t b = 0;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else {
    b = retained_.front();
    retained_.pop_front();
    retained_at_[static_cast<size_t>(b)] = retained_.end();
    unregister(b);
  }
  refs_[static_cast<size_t>(b)] = 1;
  touched_blocks_ = std::max<int64_t>(touched_blocks_, b + 1);
  return b;
}

void KvBlockPool::unregister(int32_t block) {
  std::string& hash = hash_of_[static_cast<size_t>(block)];
  if (hash.empty()) return;
  by_hash_.erase(hash);
  hash.clear();
}

SequenceId KvBlockPool::add_sequence() {
  const SequenceId id = next_id_++;
  seqs_.emplace(id, Sequence{});
  return id;
}

const KvBlockPool::Sequence& KvBlockPool::get(SequenceId seq) const {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) throw ModelError("unknown KV cache sequence " + std::to_string(seq));
  return it->second;
}

KvBlockPool::Sequence& KvBlockPool::get(SequenceId seq) {
  return const_cast<Sequence&>(static_cast<const KvBlockPool*>(this)->get(seq));
}

int64_t KvBlockPool::append(SequenceId seq, int64_t n) {
  Sequence& s = get(seq);
  const int64_t need = blocks_needed(s.length + n) - static_cast<int64_t>(s.blocks.size());
  if (need > free_blocks()) return -1;
  for (int64_t i = 0; i < need; ++i) s.blocks.push_back(take_block());
  const int64_t first = s.length;
  s.length += n;
  return first;
}

int32_t KvBlockPool::append_block(SequenceId seq) {
  Sequence& s = get(seq);
  if (free_blocks() < 1 || s.length % block_size_ != 0) return -1;
  const int32_t b = take_block();
  s.blocks.push_back(b);
  s.length += block_size_;
  return b;
}

void KvBlockPool::release(SequenceId seq) {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  for (int32_t b : it->second.blocks) {
    const auto i = static_cast<size_t>(b);
    if (--refs_[i] > 0) continue;
    if (hash_of_[i].empty()) {
      free_.push_back(b);
    } else {
      retained_.push_back(b);
      retained_at_[i] = std::prev(retained_.end());
    }
  }
  seqs_.erase(it);
}

void KvBlockPool::register_block(SequenceId seq, int64_t index, const std::string& hash) {
  const Sequence& s = get(seq);
  if (index < 0 || (index + 1) * block_size_ > s.length) throw ModelError("KV cache: block " + std::to_string(index) + " is not full");
  const int32_t b = s.blocks[static_cast<size_t>(index)];
  if (!hash_of_[static_cast<size_t>(b)].empty() || by_hash_.count(hash)) return;
  hash_of_[static_cast<size_t>(b)] = hash;
  by_hash_.emplace(hash, b);
}

bool KvBlockPool::share_block(SequenceId seq, const std::string& hash) {
  Sequence& s = get(seq);
  const auto it = by_hash_.find(hash);
  if (it == by_hash_.end() || s.length % block_size_ != 0) return false;
  const int32_t b = it->second;
  const auto i = static_cast<size_t>(b);
  if (refs_[i]++ == 0) {  // retained: in use again
    retained_.erase(retained_at_[i]);
    retained_at_[i] = retained_.end();
  }
  s.blocks.push_back(b);
  s.length += block_size_;
  return true;
}

void KvBlockPool::drop_retained() {
  for (int32_t b : retained_) {
    unregister(b);
    retained_at_[static_cast<size_t>(b)] = retained_.end();
    free_.push_back(b);
  }
  retained_.clear();
}

int64_t KvBlockPool::length(SequenceId seq) const { return get(seq).length; }

std::span<const int32_t> KvBlockPool::block_table(SequenceId seq) const { return get(seq).blocks; }

}  // namespace pio
