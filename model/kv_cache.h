// The paged KV cache of one owner that runs its own forward passes (pio generate, logits and
// bench, and the model tests): a block pool (model/kv_block_pool.h) and the storage of its bytes
// (model/kv_storage.h), sized from one budget. The serving engine keeps the two apart instead: its
// scheduler owns the pool and plans every step's blocks (serving/engine_core.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "gpu/backend.h"
#include "model/kv_block_pool.h"
#include "model/kv_storage.h"
#include "model/text_model.h"

namespace pio {

// Block `index` of seq as bytes (KvStorage::export_block). Throws ModelError when seq has no
// such block.
std::string export_block(const KvBlockPool& pool, const KvStorage& storage, SequenceId seq, int64_t index);
// Appends a block filled from export_block's bytes to seq (length a whole number of blocks).
// False (nothing changed) when no block is free or the storage does not accept the bytes.
bool load_block(KvBlockPool& pool, KvStorage& storage, SequenceId seq, std::string_view bytes);

class PagedKvCache {
 public:
  // The storage takes budget_bytes through the backend; the pool has as many blocks. Throws
  // ModelError when the budget cannot hold a single block.
  PagedKvCache(Backend& backend, KvCacheShape shape, int64_t budget_bytes, int block_size = 16);
  // The same with the layers split over backends (TextModel::kv_layers()).
  PagedKvCache(std::span<const KvLayerRange> ranges, KvCacheShape shape, int64_t budget_bytes, int block_size = 16);

  KvBlockPool& pool() { return pool_; }
  const KvBlockPool& pool() const { return pool_; }
  KvStorage& storage() { return storage_; }
  const KvStorage& storage() const { return storage_; }

  // Runs batch with step i on sequence seqs[i]: first takes the slots every step needs (all or
  // none: ModelError "KV cache is full" when the pool is short), then points each step at its
  // sequence's block table and first new slot. Returns TextModel::forward's logits.
  std::span<const float> forward(TextModel& model, const ForwardBatch& batch, std::span<const SequenceId> seqs);

 private:
  KvStorage storage_;
  KvBlockPool pool_;
  ForwardBatch planned_;  // forward()'s batch with block tables (reused)
};

}  // namespace pio
