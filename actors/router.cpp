#include "actors/router.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>

#include <caf/typed_event_based_actor.hpp>

#include "serving/engine_router.h"
#include "serving/request_table.h"

namespace pio {
namespace {

// A job that waits for a worker (none takes jobs), with its prefix keys and the placement it
// replaces (0: none).
struct Held {
  EngineJob job;
  std::vector<std::string> prefix_keys;
  uint64_t previous = 0;
};

struct RouterState {
  std::unique_ptr<EngineRouter> placement;
  std::map<uint32_t, engine_actor> engines;
  std::deque<Held> held;
  bool admitting = true;
};

using router_pointer = router_actor::stateful_pointer<RouterState>;

// Tells each job's worker to copy its KV blocks to the job's (new) replica, or to stop.
void send_replica_orders(router_pointer self) {
  auto& st = self->state;
  for (const auto& order : st.placement->take_replica_orders())
    if (const auto it = st.engines.find(order.primary); it != st.engines.end())
      self->send(it->second, replicate_atom::value, order.job, order.copy);
}

// Sends the job to a worker, or holds it until one joins.
void route(router_pointer self, EngineJob job, std::vector<std::string> prefix_keys, uint64_t previous) {
  auto& st = self->state;
  if (const auto worker = st.placement->place(job.id, prefix_keys, previous)) {
    const engine_actor& engine = st.engines.at(*worker);
    if (engine.node() != self->node()) drop_pixels_with_files(job);  // another process: files cross, not pixels
    self->send(engine, enqueue_atom::value, std::move(job));
    send_replica_orders(self);  // after the job: the order must find it there
    return;
  }
  st.held.push_back({std::move(job), std::move(prefix_keys), previous});
}

void release_held(router_pointer self) {
  auto& st = self->state;
  while (!st.held.empty() && st.placement->accepting()) {
    Held h = std::move(st.held.front());
    st.held.pop_front();
    route(self, std::move(h.job), std::move(h.prefix_keys), h.previous);
  }
}

// Forgets a held job (and the replica of the placement it replaces); true when it was held.
bool drop_held(RouterState& st, uint64_t job) {
  const auto it = std::find_if(st.held.begin(), st.held.end(), [job](const Held& h) { return h.job.id == job; });
  if (it == st.held.end()) return false;
  if (it->previous) st.placement->ended(it->previous);
  st.held.erase(it);
  return true;
}

template <class... Ts>
void to_all(router_pointer self, const Ts&... xs) {
  for (const auto& [id, engine] : self->state.engines) self->send(engine, xs...);
}

router_actor::behavior_type router_behavior(router_pointer self, const std::string& policy, bool kv_replicas) {
  self->state.placement = std::make_unique<EngineRouter>(make_routing_policy(policy), kv_replicas);
  return {
      [self](enqueue_atom, EngineJob& job, std::vector<std::string>& prefix_keys, uint64_t previous) {
        route(self, std::move(job), std::move(prefix_keys), previous);
      },
      [self](KvBlocks& blocks) {  // from a job's worker, for its replica
        auto& st = self->state;
        const auto replica = st.placement->replica_of(blocks.job);
        if (!replica || !st.engines.count(*replica)) return;
        self->send(st.engines.at(*replica), std::move(blocks));
      },
      [self](cancel_atom, uint64_t job) {
        if (drop_held(self->state, job)) return;
        if (const auto w = self->state.placement->worker_of(job)) self->send(self->state.engines.at(*w), cancel_atom::value, job);
      },
      [self](done_atom, uint64_t job) {
        drop_held(self->state, job);
        self->state.placement->ended(job);
      },
      [self](load_atom) { return self->state.placement->total_load(); },
      [self](preempt_atom) { to_all(self, preempt_atom::value); },
      [self](shrink_atom) { to_all(self, shrink_atom::value); },
      [self](admit_atom, bool admitting) {
        self->state.admitting = admitting;
        to_all(self, admit_atom::value, admitting);
      },
      [self](join_atom, std::string& name, engine_actor& engine) {
        const uint32_t id = self->state.placement->join(std::move(name));
        if (!self->state.admitting) self->send(engine, admit_atom::value, false);
        self->state.engines.emplace(id, std::move(engine));
        release_held(self);
        send_replica_orders(self);
        return id;
      },
      [self](leave_atom, uint32_t worker) {
        self->state.engines.erase(worker);
        auto held = self->state.placement->leave(worker);
        send_replica_orders(self);
        return held;
      },
      [self](drain_atom, uint32_t worker) {
        self->state.placement->drain(worker);
        send_replica_orders(self);
      },
      [self](report_atom, uint32_t worker, WorkerReport& report) {
        self->state.placement->report(worker, std::move(report));
      },
      [self](workers_atom) -> caf::result<std::vector<WorkerStats>> {
        // Fresh loads for the report: each worker asked now; one that does not answer within a
        // second keeps its last report. No worker: the answer now, before a promise takes over
        // the reply (a value returned after make_response_promise is dropped, and the asker of a
        // front end without workers waited for its timeout).
        if (self->state.engines.empty()) return self->state.placement->workers();
        auto promise = std::make_shared<caf::typed_response_promise<std::vector<WorkerStats>>>(
            self->make_response_promise<std::vector<WorkerStats>>());
        auto pending = std::make_shared<size_t>(self->state.engines.size());
        const auto answered = [self, promise, pending] {
          if (--*pending == 0) promise->deliver(self->state.placement->workers());
        };
        for (const auto& [id, engine] : self->state.engines) {
          self->request(engine, std::chrono::seconds(1), load_atom::value)
              .then(
                  [self, answered, id = id](const EngineLoad& load) {
                    self->state.placement->update_load(id, load);
                    answered();
                  },
                  [answered](caf::error&) { answered(); });
        }
        return *promise;
      },
  };
}

}  // namespace

router_actor spawn_router(caf::actor_system& sys, const std::string& policy, bool kv_replicas) {
  make_routing_policy(policy);  // an unknown name throws here, not inside the actor
  return sys.spawn(router_behavior, policy, kv_replicas);
}

}  // namespace pio
