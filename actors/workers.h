// The tokenizer and preprocessor pools, and the cache's prefetcher. The pools: several stateless workers each behind one handle
// (CAF's actor_pool, round robin), so a request's text and its images are processed in
// parallel on CAF's scheduler threads, never on the engine's compute cores.
#pragma once

#include <memory>

#include <caf/actor_system.hpp>

#include "actors/interfaces.h"
#include "model/image/preprocessor_config.h"
#include "model/tokenizer/tokenizer.h"
#include "storage/tiered_cache.h"

namespace pio {

// A pool of `workers` tokenizer workers sharing one (immutable) tokenizer.
tokenizer_actor spawn_tokenizer_pool(caf::actor_system& sys, std::shared_ptr<const Tokenizer> tokenizer, size_t workers);

// A pool of `workers` image preprocessors; node_max_pixels caps every request's (0: the config's).
// With a cache, each looks the image up first (serving/prepare_image.h).
preprocessor_actor spawn_preprocessor_pool(caf::actor_system& sys, PreprocessorConfig config, int64_t node_max_pixels,
                                           size_t workers, std::shared_ptr<TieredCache> cache);

// The cache's disk reader (TieredCache::prefetch) on a thread of its own, so a job's disk reads
// never wait behind image decoding nor block a scheduler thread. cache must not be null.
prefetch_actor spawn_prefetcher(caf::actor_system& sys, std::shared_ptr<TieredCache> cache);

}  // namespace pio
