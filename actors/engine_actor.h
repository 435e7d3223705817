// The engine actor: a thin wrapper that owns an EngineGroup (model, KV cache, batcher) on a
// thread of its own (the compute pool's threads are the model backend's), runs a step whenever
// it has work, and sends every stream event and every step's figures to the front end it joined.
// Messages that arrive during a step are handled before the next one, so new sequences join and
// cancelled ones leave at step boundaries. With a cache, a job whose prompt blocks are on disk
// waits for its prefetch (on the prefetcher's thread) before it joins, so a step never reads disk.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>

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
  // The CPU backend a new engine group starts on when this one's device fails (DeviceLost);
  // null: none. It must outlive the engine.
  Backend* fallback = nullptr;
};

// The reason an engine exits with when its backend's device failed (DeviceLost). The worker that
// spawned it then starts a new engine group on the fallback (engine_on_fallback), or stops when
// there is none, and the front end moves the lost group's requests on as from any lost worker:
// each resumes from what its stream delivered, so its answer is the one it would have had.
caf::error device_lost_error(const std::string& why);
bool is_device_lost(const caf::error& reason);
// Renders device_lost_error as its message ("the device failed: <why>") in cfg's actor system.
void add_device_error_category(caf::actor_system_config& cfg);
// `settings` with everything on its fallback (the CPU: no partial offload, the vision tower
// there too) and no fallback left.
EngineSettings engine_on_fallback(EngineSettings settings);

engine_actor spawn_engine(caf::actor_system& sys, const EngineSettings& settings, engine_events events);

}  // namespace pio
