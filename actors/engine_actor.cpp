#include "actors/engine_actor.h"

#include <unordered_set>

#include <caf/typed_event_based_actor.hpp>

#include "actors/clock.h"
#include "actors/error_words.h"
#include "actors/workers.h"
#include "gpu/backend_error.h"
#include "serving/kv_replicas.h"
#include "serving/prefix_keys.h"

namespace pio {
namespace {

constexpr int64_t kReplicaMessageBytes = int64_t{16} << 20;  // about 9 KV blocks of 16 tokens of the 2B model (bf16)

struct EngineState {
  std::unique_ptr<KvStorage> kv;  // the KV bytes; the group's scheduler owns their blocks
  std::unique_ptr<EngineGroup> group;
  prefetch_actor prefetcher;                // null without a cache
  std::unordered_set<uint64_t> prefetching;  // jobs waiting for their prefix blocks from disk
  std::unordered_set<uint64_t> replicate_on_arrival;  // of those, jobs told to replicate meanwhile
  bool stepping = false;
};

using engine_pointer = engine_actor::stateful_pointer<EngineState>;

engine_actor::behavior_type engine_behavior(engine_pointer self, EngineSettings settings, engine_events events) {
  // A device that fails anywhere (a step, a load report, building the group's KV storage) ends
  // the engine with device_lost_error, which sends its work to the fallback; anything else
  // escaping a handler ends it as CAF does by default (the worker then starts it again).
  self->set_exception_handler([](caf::scheduled_actor* actor, std::exception_ptr& thrown) -> caf::error {
    try {
      std::rethrow_exception(thrown);
    } catch (const DeviceLost& e) {
      return device_lost_error(e.what());
    } catch (...) {
      return caf::scheduled_actor::default_exception_handler(actor, thrown);
    }
  });
  auto& st = self->state;
  KvCacheShape shape = kv_cache_shape(*settings.weights);
  if (settings.kv_dtype) shape.dtype = *settings.kv_dtype;
  const auto ranges = settings.options.layer_split(*settings.backend).kv_layers(shape.layers);
  st.kv = std::make_unique<KvStorage>(ranges, shape, settings.kv_bytes, settings.kv_block_size);
  st.group = std::make_unique<EngineGroup>(*settings.weights, *settings.backend, settings.tokenizer, *st.kv,
                                           settings.options, settings.cache);
  if (settings.cache) {
    st.prefetcher = spawn_prefetcher(self->system(), settings.cache);
    self->link_to(st.prefetcher);  // they stop, and are restarted, together
  }
  const auto wake = [self] {
    if (self->state.stepping) return;
    self->state.stepping = true;
    self->send(self, step_atom::value);
  };
  // The KV blocks copied for replicas go to the front end, which passes them on, in messages of
  // at most kReplicaMessageBytes.
  const auto send_replica_blocks = [self, events] {
    for (auto& blocks : self->state.group->take_replica_blocks())
      for (auto& part : split_kv_blocks(std::move(blocks), kReplicaMessageBytes)) self->send(events, std::move(part));
  };
  const auto add = [self, events, wake](EngineJob job) {
    const uint64_t id = job.id;
    const bool replicate = self->state.replicate_on_arrival.erase(id) > 0;
    try {
      self->state.group->add(std::move(job), monotonic_s());
      if (replicate) self->state.group->replicate(id);
      wake();
    } catch (const DeviceLost&) {
      throw;  // not the job's fault: the exception handler moves everything to the fallback
    } catch (const std::exception& e) {
      StreamEvent ev;
      ev.request_id = id;
      ev.final = true;
      ev.finish_reason = "error";
      ev.error = {ErrorCode::bad_request, e.what()};
      self->send(events, event_atom::value, std::move(ev));
    }
  };
  return {
      [self, settings, add](enqueue_atom, EngineJob& job) {
        // The prompt's cached KV blocks come from disk on the prefetcher's thread; the job joins
        // on whatever the prefetch found.
        std::vector<std::string> keys;
        if (settings.cache)
          keys = settings.cache->disk_only(prefix_block_keys(job, settings.weights->config(), settings.kv_block_size));
        if (keys.empty()) {
          add(std::move(job));
          return;
        }
        self->state.prefetching.insert(job.id);
        auto held = std::make_shared<EngineJob>(std::move(job));
        const auto go = [self, add, held] {
          if (self->state.prefetching.erase(held->id)) add(std::move(*held));  // else cancelled meanwhile
        };
        self->request(self->state.prefetcher, std::chrono::seconds(30), prefetch_atom::value, std::move(keys))
            .then([go](uint64_t) { go(); }, [go](caf::error&) { go(); });
      },
      [self](replicate_atom, uint64_t id, bool copy) {
        if (self->state.group->replicate(id, copy)) return;
        if (copy && self->state.prefetching.count(id)) self->state.replicate_on_arrival.insert(id);
        else self->state.replicate_on_arrival.erase(id);
      },
      [settings](KvBlocks& replica) {  // another worker's job: kept in case it moves here
        if (!settings.cache) return;
        // Hot (and through to disk): a moved job then joins the next step at once, with the
        // others moved with it, instead of each after its own read from disk.
        for (size_t i = 0; i < replica.keys.size() && i < replica.blocks.size(); ++i)
          if (!settings.cache->in_memory(replica.keys[i]))
            settings.cache->put(replica.keys[i], std::move(replica.blocks[i]));
      },
      [self, events](cancel_atom, uint64_t id) {
        self->state.prefetching.erase(id);
        self->state.replicate_on_arrival.erase(id);
        if (auto ev = self->state.group->cancel(id)) self->send(events, event_atom::value, std::move(*ev));
      },
      [self](load_atom) { return self->state.group->load(); },
      [self, wake](preempt_atom) {
        if (self->state.group->preempt_one()) wake();
      },
      [self](shrink_atom) { self->state.group->drop_retained_kv(); },
      [self, wake](admit_atom, bool admitting) {
        self->state.group->set_admitting(admitting);
        if (admitting) wake();
      },
      [self, events, send_replica_blocks](step_atom) {
        auto& group = *self->state.group;
        for (auto& ev : group.step(monotonic_s())) self->send(events, event_atom::value, std::move(ev));
        send_replica_blocks();
        self->send(events, group.last_step());
        if (!group.has_work()) {  // only a message can create work now
          self->state.stepping = false;
          return;
        }
        self->send(self, step_atom::value);
      },
  };
}

constexpr uint8_t kDeviceLostCode = 1;
const caf::atom_value kDeviceCategory = caf::atom("device");

}  // namespace

caf::error device_lost_error(const std::string& why) {
  return {kDeviceLostCode, kDeviceCategory, caf::make_message("the device failed: " + why)};
}

bool is_device_lost(const caf::error& reason) {
  return reason.category() == kDeviceCategory && reason.code() == kDeviceLostCode;
}

void add_device_error_category(caf::actor_system_config& cfg) {
  cfg.add_error_category(kDeviceCategory, [](uint8_t, caf::atom_value, const caf::message& context) {
    return context_text(context).value_or("the device failed");
  });
}

EngineSettings engine_on_fallback(EngineSettings settings) {
  settings.backend = settings.fallback;
  settings.fallback = nullptr;
  settings.options.host_backend = nullptr;
  settings.options.gpu_layers = -1;
  settings.options.vision_backend = nullptr;
  return settings;
}

engine_actor spawn_engine(caf::actor_system& sys, const EngineSettings& settings, engine_events events) {
  return sys.spawn<caf::detached>(engine_behavior, settings, events);
}

}  // namespace pio
