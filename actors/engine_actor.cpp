#include "actors/engine_actor.h"

#include <caf/typed_event_based_actor.hpp>

#include "actors/clock.h"

namespace pio {
namespace {

struct EngineState {
  std::unique_ptr<PagedKvCache> cache;
  std::unique_ptr<EngineGroup> group;
  bool stepping = false;
};

using engine_pointer = engine_actor::stateful_pointer<EngineState>;

engine_actor::behavior_type engine_behavior(engine_pointer self, EngineSettings settings, supervisor_actor events,
                                            profiler_actor profiler) {
  auto& st = self->state;
  KvCacheShape shape = settings.model->text().kv_shape();
  if (settings.kv_dtype) shape.dtype = *settings.kv_dtype;
  st.cache = std::make_unique<PagedKvCache>(shape, settings.kv_bytes, settings.kv_block_size);
  st.group = std::make_unique<EngineGroup>(*settings.model, settings.tokenizer, *st.cache, settings.options, settings.cache);
  const auto wake = [self] {
    if (self->state.stepping) return;
    self->state.stepping = true;
    self->send(self, step_atom::value);
  };
  return {
      [self, events, wake](enqueue_atom, EngineJob& job) {
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
      },
      [self, events](cancel_atom, uint64_t id) {
        if (auto ev = self->state.group->cancel(id)) self->send(events, event_atom::value, std::move(*ev));
      },
      [self](load_atom) { return self->state.group->load(); },
      [self, wake](preempt_atom) {
        if (self->state.group->preempt_one()) wake();
      },
      [self](shrink_atom) { self->state.cache->drop_retained(); },
      [self, wake](admit_atom, bool admitting) {
        self->state.group->set_admitting(admitting);
        if (admitting) wake();
      },
      [self, events, profiler](step_atom) {
        auto& group = *self->state.group;
        for (auto& ev : group.step(monotonic_s())) self->send(events, event_atom::value, std::move(ev));
        self->send(profiler, group.last_step());
        if (!group.has_work()) {  // only a message can create work now
          self->state.stepping = false;
          return;
        }
        self->send(self, step_atom::value);
      },
  };
}

}  // namespace

engine_actor spawn_engine(caf::actor_system& sys, const EngineSettings& settings, supervisor_actor events,
                          profiler_actor profiler) {
  return sys.spawn<caf::detached>(engine_behavior, settings, events, profiler);
}

}  // namespace pio
