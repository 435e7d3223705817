#include "actors/engine_actor.h"

#include <unordered_set>

#include <caf/typed_event_based_actor.hpp>

#include "actors/clock.h"
#include "actors/workers.h"
#include "serving/prefix_keys.h"

namespace pio {
namespace {

struct EngineState {
  std::unique_ptr<KvStorage> kv;  // the KV bytes; the group's scheduler owns their blocks
  std::unique_ptr<EngineGroup> group;
  prefetch_actor prefetcher;                // null without a cache
  std::unordered_set<uint64_t> prefetching;  // jobs waiting for their prefix blocks from disk
  bool stepping = false;
};

using engine_pointer = engine_actor::stateful_pointer<EngineState>;

engine_actor::behavior_type engine_behavior(engine_pointer self, EngineSettings settings, engine_events events) {
  auto& st = self->state;
  KvCacheShape shape = settings.model->text().kv_shape();
  if (settings.kv_dtype) shape.dtype = *settings.kv_dtype;
  st.kv = std::make_unique<KvStorage>(settings.model->text().backend(), shape, settings.kv_bytes, settings.kv_block_size);
  st.group = std::make_unique<EngineGroup>(*settings.model, settings.tokenizer, *st.kv, settings.options, settings.cache);
  if (settings.cache) {
    st.prefetcher = spawn_prefetcher(self->system(), settings.cache);
    self->link_to(st.prefetcher);  // they stop, and are restarted, together
  }
  const auto wake = [self] {
    if (self->state.stepping) return;
    self->state.stepping = true;
    self->send(self, step_atom::value);
  };
  const auto add = [self, events, wake](EngineJob job) {
    const uint64_t id = job.id;
    try {
      self->state.group->add(std::move(job), monotonic_s());
      wake();
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
          keys = settings.cache->disk_only(prefix_block_keys(job, settings.model->config(), settings.kv_block_size));
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
      [self, events](cancel_atom, uint64_t id) {
        self->state.prefetching.erase(id);
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
      [self, events](step_atom) {
        auto& group = *self->state.group;
        for (auto& ev : group.step(monotonic_s())) self->send(events, event_atom::value, std::move(ev));
        self->send(events, group.last_step());
        if (!group.has_work()) {  // only a message can create work now
          self->state.stepping = false;
          return;
        }
        self->send(self, step_atom::value);
      },
  };
}

}  // namespace

engine_actor spawn_engine(caf::actor_system& sys, const EngineSettings& settings, engine_events events) {
  return sys.spawn<caf::detached>(engine_behavior, settings, events);
}

}  // namespace pio
