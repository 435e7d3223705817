// The paged KV cache's bytes: every layer's K and V for a fixed number of blocks of block_size
// token slots, sized from a memory budget and allocated through the backend (Backend::allocate)
// that holds the layer.
// Which block holds what is the KvBlockPool's business; storage only maps a block id to bytes.
// On the CPU the memory is reserved up front but only touched as blocks fill (the pool's
// touched_blocks counts how far).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gpu/backend.h"
#include "gpu/backend_buffer.h"

namespace pio {

// The cache's layers and rows, and the element type its K and V are kept in (gpu/kv_dtype.h).
struct KvCacheShape {
  int layers = 0;
  int kv_heads = 0;
  int head_dim = 0;
  KvDType dtype = KvDType::F32;
};

// Consecutive layers whose K and V live in one backend's memory: a runner split over a device and
// the CPU (--gpu-layers) keeps each layer's cache where that layer computes.
struct KvLayerRange {
  Backend* backend = nullptr;
  int layers = 0;
};

class KvStorage {
 public:
  // As many blocks as budget_bytes holds, all layers on `backend`. Throws ModelError when it
  // cannot hold a single block or block_size is not positive, std::bad_alloc when the backend
  // has no memory for it.
  KvStorage(Backend& backend, KvCacheShape shape, int64_t budget_bytes, int block_size = 16);
  // The same with the layers split over backends in order (layer counts summing to
  // shape.layers; ModelError otherwise). Every range holds the same blocks.
  KvStorage(std::span<const KvLayerRange> ranges, KvCacheShape shape, int64_t budget_bytes, int block_size = 16);

  // One layer's K and V (backend memory) for the kernels, and the backend that holds them.
  PagedKvLayer layer(int index) const;
  Backend& backend_of(int layer) const { return *part_of(layer).backend; }

  // A block's keys and values in every layer, as bytes (what the tiered cache stores): one
  // byte naming the KV dtype, then per layer the block's K rows then its V rows, as stored.
  // Throws ModelError for a block outside the storage.
  std::string export_block(int32_t block) const;
  // Whether bytes are export_block's bytes for this storage: the same size and KV dtype (a
  // bf16 block is never read as f16).
  bool accepts(std::string_view bytes) const;
  // Fills a block from export_block's bytes; throws ModelError unless accepts(bytes).
  void import_block(int32_t block, std::string_view bytes);

  int block_size() const { return block_size_; }
  int64_t total_blocks() const { return total_blocks_; }
  KvDType dtype() const { return shape_.dtype; }
  const KvCacheShape& shape() const { return shape_; }
  // K and V of one block in every layer: 2 · layers · block_size · kv_heads · kv_row_bytes.
  static int64_t bytes_per_block(KvCacheShape shape, int block_size);
  int64_t bytes_per_block() const { return bytes_per_block(shape_, block_size_); }
  // The part of a block's bytes in host memory (its layers on backends that share it): all of
  // them on the CPU, none with every layer on a device.
  int64_t host_bytes_per_block() const;

 private:
  // One backend's layers [first_layer, first_layer + layers) and their K and V.
  struct Part {
    Backend* backend;
    int first_layer, layers;
    BackendBuffer k, v;
  };
  const Part& part_of(int layer) const;
  // The byte offset of block b's K (or V) rows of layer l in its part's k (or v).
  int64_t offset(const Part& part, int l, int32_t block) const {
    return (l - part.first_layer) * layer_stride_ + block * block_bytes_;
  }

  KvCacheShape shape_;
  int block_size_;
  int64_t total_blocks_;
  int64_t block_bytes_;   // one block of K (or V) in one layer
  int64_t layer_stride_;  // bytes per layer in a part's k and v
  std::vector<Part> parts_;
};

}  // namespace pio
