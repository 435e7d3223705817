// The tiered-cache keys of a prompt's KV blocks, as the engine core stores them (prefix caching,
// serving/prefix_hash.h), computed from a job before it reaches the engine: what a caller passes
// to TieredCache::prefetch so that the engine finds those blocks in memory and never waits for a
// disk read. Plain functions.
#pragma once

#include <string>
#include <vector>

#include "messages/pipeline.h"
#include "model/config.h"

namespace pio {

// A KV block's key in the tiered cache: "kv/" + its prefix hash.
std::string kv_block_key(const std::string& hash);

// The keys of the job's full prompt blocks that the engine can take from the cache, in order
// (the block holding the prompt's last token is always computed, so it is left out). A moved
// job's prompt goes on through its resume_ids (the engine prefills them after the prompt). Image
// placeholders count their grid's tokens (from the job's pixels, or its cached features' grids).
// The keys stop before the first block holding an image without a cache key (it cannot be
// named); empty when the job's images and placeholders disagree (the engine refuses it).
// block_size: the KV cache's tokens per block.
std::vector<std::string> prefix_block_keys(const EngineJob& job, const ModelConfig& cfg, int block_size);

}  // namespace pio
