#include "model/kv_cache.h"

#include <string>

#include "model/errors.h"

namespace pio {

std::string export_block(const KvBlockPool& pool, const KvStorage& storage, SequenceId seq, int64_t index) {
  const auto table = pool.block_table(seq);
  if (index < 0 || index >= static_cast<int64_t>(table.size())) throw ModelError("KV cache: no block " + std::to_string(index));
  return storage.export_block(table[static_cast<size_t>(index)]);
}

bool load_block(KvBlockPool& pool, KvStorage& storage, SequenceId seq, std::string_view bytes) {
  if (!storage.accepts(bytes)) return false;
  const int32_t block = pool.append_block(seq);
  if (block < 0) return false;
  storage.import_block(block, bytes);
  return true;
}

PagedKvCache::PagedKvCache(Backend& backend, KvCacheShape shape, int64_t budget_bytes, int block_size)
    : storage_(backend, shape, budget_bytes, block_size), pool_(storage_.total_blocks(), block_size) {}

PagedKvCache::PagedKvCache(std::span<const KvLayerRange> ranges, KvCacheShape shape, int64_t budget_bytes,
                           int block_size)
    : storage_(ranges, shape, budget_bytes, block_size), pool_(storage_.total_blocks(), block_size) {}

std::span<const float> PagedKvCache::forward(TextModel& model, const ForwardBatch& batch, std::span<const SequenceId> seqs) {
  if (seqs.size() != batch.steps.size())
    throw ModelError("batch has " + std::to_string(batch.steps.size()) + " steps but " + std::to_string(seqs.size()) +
                     " sequences");
  int64_t blocks = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (batch.steps[i].n_tokens <= 0) throw ModelError("a batch step must have at least one token");
    const int64_t length = pool_.length(seqs[i]);
    blocks += pool_.blocks_needed(length + batch.steps[i].n_tokens) - pool_.blocks_needed(length);
  }
  if (blocks > pool_.free_blocks())
    throw ModelError("KV cache is full: the batch needs " + std::to_string(blocks) + " more blocks, " +
                     std::to_string(pool_.free_blocks()) + " are free");
  planned_ = batch;
  for (size_t i = 0; i < seqs.size(); ++i) {
    SequenceStep& step = planned_.steps[i];
    step.first_slot = pool_.append(seqs[i], step.n_tokens);
    step.blocks = pool_.block_table(seqs[i]);
  }
  return model.forward(planned_, storage_);
}

}  // namespace pio
