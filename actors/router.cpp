#include "actors/router.h"

#include <memory>

#include <caf/typed_event_based_actor.hpp>

#include "serving/engine_router.h"

namespace pio {
namespace {

struct RouterState {
  std::unique_ptr<EngineRouter> placement;
  std::vector<engine_actor> groups;
};

using router_pointer = router_actor::stateful_pointer<RouterState>;

router_actor::behavior_type router_behavior(router_pointer self, uint32_t groups) {
  self->state.placement = std::make_unique<EngineRouter>(groups);
  self->state.groups.resize(groups);
  return {
      [self](enqueue_atom, EngineJob& job) {
        const size_t g = self->state.placement->place(job.id);
        self->send(self->state.groups[g], enqueue_atom::value, std::move(job));
      },
      [self](cancel_atom, uint64_t id) {
        if (const auto g = self->state.placement->group_of(id)) self->send(self->state.groups[*g], cancel_atom::value, id);
      },
      [self](done_atom, uint64_t id) { self->state.placement->ended(id); },
      [self](load_atom) -> caf::result<EngineLoad> {
        // The groups' loads, summed once every group answered.
        auto promise = self->make_response_promise<EngineLoad>();
        auto sum = std::make_shared<EngineLoad>();
        auto pending = std::make_shared<size_t>(self->state.groups.size());
        for (const auto& group : self->state.groups) {
          self->request(group, std::chrono::seconds(10), load_atom::value)
              .then(
                  [=](const EngineLoad& l) mutable {
                    sum->running += l.running;
                    sum->waiting += l.waiting;
                    sum->kv_blocks_used += l.kv_blocks_used;
                    sum->kv_blocks_total += l.kv_blocks_total;
                    sum->kv_bytes_per_block = l.kv_bytes_per_block;
                    sum->kv_blocks_touched += l.kv_blocks_touched;
                    sum->image_bytes += l.image_bytes;
                    if (--*pending == 0) promise.deliver(*sum);
                  },
                  [=](caf::error& e) mutable { promise.deliver(std::move(e)); });
        }
        return promise;
      },
      [self](preempt_atom) {
        for (const auto& group : self->state.groups) self->send(group, preempt_atom::value);
      },
      [self](shrink_atom) {
        for (const auto& group : self->state.groups) self->send(group, shrink_atom::value);
      },
      [self](admit_atom, bool admitting) {
        for (const auto& group : self->state.groups) self->send(group, admit_atom::value, admitting);
      },
      [self](group_atom, uint32_t slot, engine_actor& group) -> caf::result<std::vector<uint64_t>> {
        if (slot >= self->state.groups.size()) return caf::make_error(caf::sec::invalid_argument, "no such engine group slot");
        self->state.groups[slot] = std::move(group);
        return self->state.placement->drop_group(slot);
      },
  };
}

}  // namespace

router_actor spawn_router(caf::actor_system& sys, uint32_t groups) { return sys.spawn(router_behavior, groups); }

}  // namespace pio
