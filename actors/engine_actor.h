// The engine actor: a thin wrapper that owns an EngineGroup (model, KV cache, batcher) on a
// thread of its own (the compute pool's threads are the model backend's), runs a step whenever
// it has work, and sends every stream event and every step's figures to the front end it joined.
// Messages that arrive during a step are handled before the next one, so new sequences join and
// cancelled ones leave at step boundaries. With a cache, a job whose prompt blocks are on disk
// waits for its prefetch (on the prefetcher's thread) before it joins, so a step never reads disk.
#pragma once

#include <memory>
#include <optional>

#include <caf/actor_system.hpp>

#include "actors/interfaces.h"
#include "model/model_weights.h"
#include "serving/engine_group.h"

namespace pio {

struct EngineSettings {
  // Shared with restarted engines (the weights stay mapped) and with any other engine group.
  std::shared_ptr<const ModelWeights> weights;
  Backend* backend = nullptr;  // what the group's runners compute on; outlives the engine
  std::shared_ptr<const Tokenizer> tokenizer;
  int64_t kv_bytes = int64_t{1} << 30;
  int kv_block_size = 16;
  std::optional<KvDType> kv_dtype;  // the KV cache's element type; none: the checkpoint's (auto)
  EngineGroupOptions options;
  std::shared_ptr<TieredCache> cache;  // vision embeddings and prefix KV; null with --no-cache
};

engine_actor spawn_engine(caf::actor_system& sys, const EngineSettings& settings, engine_events events);

}  // namespace pio
