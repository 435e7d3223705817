#include "model/kv_storage.h"

#include <string>

#include "model/errors.h"

namespace pio {

int64_t KvStorage::bytes_per_block(KvCacheShape s, int block_size) {
  return 2 * int64_t{s.layers} * block_size * s.kv_heads * kv_row_bytes(s.dtype, s.head_dim);
}

KvStorage::KvStorage(Backend& backend, KvCacheShape shape, int64_t budget_bytes, int block_size)
    : KvStorage(std::vector<KvLayerRange>{{&backend, shape.layers}}, shape, budget_bytes, block_size) {}

KvStorage::KvStorage(std::span<const KvLayerRange> ranges, KvCacheShape shape, int64_t budget_bytes, int block_size)
    : shape_(shape), block_size_(block_size) {
  if (block_size <= 0) throw ModelError("KV cache block size must be positive");
  total_blocks_ = budget_bytes / bytes_per_block(shape, block_size);
  if (total_blocks_ < 1)
    throw ModelError("KV cache budget of " + std::to_string(budget_bytes) + " bytes holds no block of " +
                     std::to_string(bytes_per_block(shape, block_size)) + " bytes");
  block_bytes_ = int64_t{block_size} * shape.kv_heads * kv_row_bytes(shape.dtype, shape.head_dim);
  layer_stride_ = total_blocks_ * block_bytes_;
  int first = 0;
  for (const KvLayerRange& r : ranges) {
    if (r.layers <= 0) continue;
    const auto bytes = static_cast<size_t>(layer_stride_ * r.layers);
    parts_.push_back({r.backend, first, r.layers, BackendBuffer(*r.backend, bytes), BackendBuffer(*r.backend, bytes)});
    first += r.layers;
  }
  if (first != shape.layers)
    throw ModelError("KV cache: the layer ranges hold " + std::to_string(first) + " layers, the model has " +
                     std::to_string(shape.layers));
}

int64_t KvStorage::host_bytes_per_block() const {
  int64_t bytes = 0;
  for (const Part& p : parts_)
    if (p.backend->shares_host_memory()) bytes += 2 * int64_t{p.layers} * block_bytes_;
  return bytes;
}

const KvStorage::Part& KvStorage::part_of(int layer) const {
  for (const Part& p : parts_)
    if (layer < p.first_layer + p.layers) return p;
  throw ModelError("KV cache: no layer " + std::to_string(layer));
}

PagedKvLayer KvStorage::layer(int index) const {
  const Part& p = part_of(index);
  const int64_t at = offset(p, index, 0);
  return PagedKvLayer{p.k.data() + at, p.v.data() + at, shape_.dtype, block_size_, shape_.kv_heads, shape_.head_dim};
}

std::string KvStorage::export_block(int32_t block) const {
  if (block < 0 || block >= total_blocks_) throw ModelError("KV cache: no block " + std::to_string(block));
  std::string out(static_cast<size_t>(1 + bytes_per_block()), '\0');
  out[0] = static_cast<char>(shape_.dtype);
  char* p = out.data() + 1;
  for (const Part& part : parts_) {
    for (int l = part.first_layer; l < part.first_layer + part.layers; ++l)
      for (const BackendBuffer* base : {&part.k, &part.v}) {
        part.backend->download(p, base->data() + offset(part, l, block), static_cast<size_t>(block_bytes_));
        p += block_bytes_;
      }
    part.backend->synchronize();  // the bytes are read as soon as this returns
  }
  return out;
}

bool KvStorage::accepts(std::string_view bytes) const {
  return static_cast<int64_t>(bytes.size()) == 1 + bytes_per_block() && bytes[0] == static_cast<char>(shape_.dtype);
}

void KvStorage::import_block(int32_t block, std::string_view bytes) {
  if (block < 0 || block >= total_blocks_) throw ModelError("KV cache: no block " + std::to_string(block));
  if (!accepts(bytes)) throw ModelError("KV cache: a stored block of another size or KV dtype");
  const char* p = bytes.data() + 1;
  for (Part& part : parts_) {
    for (int l = part.first_layer; l < part.first_layer + part.layers; ++l)
      for (BackendBuffer* base : {&part.k, &part.v}) {
        part.backend->upload(base->data() + offset(part, l, block), p, static_cast<size_t>(block_bytes_));
        p += block_bytes_;
      }
    part.backend->synchronize();  // bytes may be freed once this returns
  }
}

}  // namespace pio
