#include "model/kv_cache.h"

#include <cstring>
#include <string>

#include "model/errors.h"

namespace pio {

int64_t PagedKvCache::bytes_per_block(KvCacheShape s, int block_size) {
  return 2 * int64_t{s.layers} * block_size * s.kv_heads * kv_row_bytes(s.dtype, s.head_dim);
}

PagedKvCache::PagedKvCache(KvCacheShape shape, int64_t budget_bytes, int block_size)
    : shape_(shape), block_size_(block_size) {
  if (block_size <= 0) throw ModelError("KV cache block size must be positive");
  total_blocks_ = budget_bytes / bytes_per_block(shape, block_size);
  if (total_blocks_ < 1)
    throw ModelError("KV cache budget of " + std::to_string(budget_bytes) + " bytes holds no block of " +
                     std::to_string(bytes_per_block(shape, block_size)) + " bytes");
  block_bytes_ = int64_t{block_size} * shape.kv_heads * kv_row_bytes(shape.dtype, shape.head_dim);
  layer_stride_ = total_blocks_ * block_bytes_;
  // new[] without () leaves the pages untouched, so resident memory grows only with use.
  k_.reset(new std::byte[static_cast<size_t>(layer_stride_ * shape.layers)]);
  v_.reset(new std::byte[static_cast<size_t>(layer_stride_ * shape.layers)]);
  free_.reserve(static_cast<size_t>(total_blocks_));
  for (int64_t b = total_blocks_ - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
  refs_.assign(static_cast<size_t>(total_blocks_), 0);
  hash_of_.resize(static_cast<size_t>(total_blocks_));
  retained_at_.assign(static_cast<size_t>(total_blocks_), retained_.end());
}

int32_t PagedKvCache::take_block() {
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

void PagedKvCache::unregister(int32_t block) {
  std::string& hash = hash_of_[static_cast<size_t>(block)];
  if (hash.empty()) return;
  by_hash_.erase(hash);
  hash.clear();
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
  for (int64_t i = 0; i < need; ++i) s.blocks.push_back(take_block());
  const int64_t first = s.length;
  s.length += n;
  return first;
}

void PagedKvCache::release(SequenceId seq) {
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

void PagedKvCache::register_block(SequenceId seq, int64_t index, const std::string& hash) {
  const Sequence& s = get(seq);
  if (index < 0 || (index + 1) * block_size_ > s.length) throw ModelError("KV cache: block " + std::to_string(index) + " is not full");
  const int32_t b = s.blocks[static_cast<size_t>(index)];
  if (!hash_of_[static_cast<size_t>(b)].empty() || by_hash_.count(hash)) return;
  hash_of_[static_cast<size_t>(b)] = hash;
  by_hash_.emplace(hash, b);
}

bool PagedKvCache::share_block(SequenceId seq, const std::string& hash) {
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

std::string PagedKvCache::export_block(SequenceId seq, int64_t index) const {
  const Sequence& s = get(seq);
  if (index < 0 || index >= static_cast<int64_t>(s.blocks.size())) throw ModelError("KV cache: no block " + std::to_string(index));
  const int64_t offset = s.blocks[static_cast<size_t>(index)] * block_bytes_;
  std::string out(1, static_cast<char>(shape_.dtype));
  out.reserve(static_cast<size_t>(1 + bytes_per_block()));
  for (int l = 0; l < shape_.layers; ++l)
    for (const std::byte* base : {k_.get(), v_.get()})
      out.append(reinterpret_cast<const char*>(base + l * layer_stride_ + offset), static_cast<size_t>(block_bytes_));
  return out;
}

bool PagedKvCache::load_block(SequenceId seq, std::string_view bytes) {
  Sequence& s = get(seq);
  if (static_cast<int64_t>(bytes.size()) != 1 + bytes_per_block() || bytes[0] != static_cast<char>(shape_.dtype) ||
      free_blocks() < 1 || s.length % block_size_ != 0)
    return false;
  const int32_t b = take_block();
  const char* p = bytes.data() + 1;
  for (int l = 0; l < shape_.layers; ++l)
    for (std::byte* base : {k_.get(), v_.get()}) {
      std::memcpy(base + l * layer_stride_ + b * block_bytes_, p, static_cast<size_t>(block_bytes_));
      p += block_bytes_;
    }
  s.blocks.push_back(b);
  s.length += block_size_;
  return true;
}

void PagedKvCache::drop_retained() {
  for (int32_t b : retained_) {
    unregister(b);
    retained_at_[static_cast<size_t>(b)] = retained_.end();
    free_.push_back(b);
  }
  retained_.clear();
}

int64_t PagedKvCache::length(SequenceId seq) const { return get(seq).length; }

const int32_t* PagedKvCache::block_table(SequenceId seq) const { return get(seq).blocks.data(); }

PagedKvLayer PagedKvCache::layer(int index) const {
  return PagedKvLayer{k_.get() + index * layer_stride_, v_.get() + index * layer_stride_, shape_.dtype, block_size_,
                      shape_.kv_heads, shape_.head_dim};
}

}  // namespace pio
