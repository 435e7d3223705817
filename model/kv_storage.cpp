#include "model/kv_storage.h"

#include <string>

#include "model/errors.h"

namespace pio {

int64_t KvStorage::bytes_per_block(KvCacheShape s, int block_size) {
  return 2 * int64_t{s.layers} * block_size * s.kv_heads * kv_row_bytes(s.dtype, s.head_dim);
}

KvStorage::KvStorage(Backend& backend, KvCacheShape shape, int64_t budget_bytes, int block_size)
    : backend_(backend), shape_(shape), block_size_(block_size) {
  if (block_size <= 0) throw ModelError("KV cache block size must be positive");
  total_blocks_ = budget_bytes / bytes_per_block(shape, block_size);
  if (total_blocks_ < 1)
    throw ModelError("KV cache budget of " + std::to_string(budget_bytes) + " bytes holds no block of " +
                     std::to_string(bytes_per_block(shape, block_size)) + " bytes");
  block_bytes_ = int64_t{block_size} * shape.kv_heads * kv_row_bytes(shape.dtype, shape.head_dim);
  layer_stride_ = total_blocks_ * block_bytes_;
  const auto bytes = static_cast<size_t>(layer_stride_ * shape.layers);
  k_ = BackendBuffer(backend, bytes);
  v_ = BackendBuffer(backend, bytes);
}

PagedKvLayer KvStorage::layer(int index) const {
  return PagedKvLayer{k_.data() + index * layer_stride_, v_.data() + index * layer_stride_, shape_.dtype, block_size_,
                      shape_.kv_heads, shape_.head_dim};
}

std::string KvStorage::export_block(int32_t block) const {
  if (block < 0 || block >= total_blocks_) throw ModelError("KV cache: no block " + std::to_string(block));
  std::string out(static_cast<size_t>(1 + bytes_per_block()), '\0');
  out[0] = static_cast<char>(shape_.dtype);
  char* p = out.data() + 1;
  for (int l = 0; l < shape_.layers; ++l)
    for (const BackendBuffer* base : {&k_, &v_}) {
      backend_.download(p, base->data() + offset(l, block), static_cast<size_t>(block_bytes_));
      p += block_bytes_;
    }
  backend_.synchronize();  // the bytes are read as soon as this returns
  return out;
}

bool KvStorage::accepts(std::string_view bytes) const {
  return static_cast<int64_t>(bytes.size()) == 1 + bytes_per_block() && bytes[0] == static_cast<char>(shape_.dtype);
}

void KvStorage::import_block(int32_t block, std::string_view bytes) {
  if (block < 0 || block >= total_blocks_) throw ModelError("KV cache: no block " + std::to_string(block));
  if (!accepts(bytes)) throw ModelError("KV cache: a stored block of another size or KV dtype");
  const char* p = bytes.data() + 1;
  for (int l = 0; l < shape_.layers; ++l)
    for (BackendBuffer* base : {&k_, &v_}) {
      backend_.upload(base->data() + offset(l, block), p, static_cast<size_t>(block_bytes_));
      p += block_bytes_;
    }
  backend_.synchronize();  // bytes may be freed once this returns
}

}  // namespace pio
