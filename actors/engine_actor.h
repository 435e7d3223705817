// The engine actor: a thin wrapper that owns an EngineGroup (model, KV cache, batcher) on a
// thread of its own (the compute pool's threads are the model backend's), runs a step whenever
// it has work, and sends every stream event to the supervisor and every step's figures to the
// profiler. Messages that arrive during a step are handled before the next one, so new
// sequences join and cancelled ones leave at step boundaries.
#pragma once

#include <memory>
#include <optional>

#include <caf/actor_system.hpp>

#include "actors/interfaces.h"
#include "model/model.h"
#include "serving/engine_group.h"

namespace pio {

struct EngineSettings {
  std::shared_ptr<Model> model;  // shared with restarted engines: the weights stay mapped
  std::shared_ptr<const Tokenizer> tokenizer;
  int64_t kv_bytes = int64_t{1} << 30;
  int kv_block_size = 16;
  std::optional<KvDType> kv_dtype;  // the KV cache's element type; none: the checkpoint's (auto)
  EngineGroupOptions options;
  std::shared_ptr<TieredCache> cache;  // vision embeddings and prefix KV; null with --no-cache
};

engine_actor spawn_engine(caf::actor_system& sys, const EngineSettings& settings, supervisor_actor events,
                          profiler_actor profiler);

}  // namespace pio
