#include "actors/worker.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/error_words.h"

namespace pio {
namespace {

// Reconnection backoff: doubles from the first to the last, each wait scaled by a random factor
// in [0.75, 1.25] so that the workers of a restarted front end do not all come back at once.
constexpr double kFirstBackoffS = 0.25;
constexpr double kLastBackoffS = 4.0;

struct WorkerState {
  WorkerSettings settings;
  std::optional<FrontendAddress> address;  // none: the front end is in this process
  frontend_api frontend;
  engine_actor engine;
  uint32_t id = 0;  // the front end's id for this worker; 0 while not joined
  bool pending = false;  // a connect or a join is in flight (a second retry must not start another)
  bool draining = false;
  std::vector<caf::typed_response_promise<bool>> drain_waiters;  // answered once nothing runs
  double backoff_s = kFirstBackoffS;
  std::mt19937_64 random{std::random_device{}()};
};

using worker_pointer = worker_actor::stateful_pointer<WorkerState>;

void log(worker_pointer self, const std::string& line) {
  std::cerr << "pio-node: worker " << self->state.settings.name << ": " << line << "\n" << std::flush;
}

// A drain asked for is answered once nothing runs here, and after a round trip to the front
// end: the final events sent before it are then delivered (the process exits right after).
void drained(worker_pointer self) {
  auto& st = self->state;
  if (!st.draining || st.drain_waiters.empty()) return;
  const auto answer = [waiters = std::make_shared<std::vector<caf::typed_response_promise<bool>>>(
                            std::exchange(st.drain_waiters, {}))] {
    for (auto& p : *waiters) p.deliver(true);
  };
  if (!st.frontend) {
    answer();
    return;
  }
  self->request(st.frontend, std::chrono::seconds(5), stats_atom::value)
      .then([answer](const StatsReport&) { answer(); }, [answer](caf::error&) { answer(); });
}

// Tries again after the backoff (a remote front end only: a local one does not come back).
void retry_later(worker_pointer self) {
  auto& st = self->state;
  if (!st.address) return;
  const double wait = st.backoff_s * std::uniform_real_distribution<double>(0.75, 1.25)(st.random);
  st.backoff_s = std::min(kLastBackoffS, st.backoff_s * 2);
  self->delayed_send(self, std::chrono::duration_cast<caf::timespan>(std::chrono::duration<double>(wait)), join_atom::value);
}

// Joins the front end with an engine group (a new one unless it has one).
void join(worker_pointer self) {
  auto& st = self->state;
  st.pending = true;
  if (!st.engine) {
    st.engine = spawn_engine(self->system(), st.settings.engine, caf::actor_cast<engine_events>(st.frontend));
    self->monitor(st.engine);
  }
  WorkerHello hello;
  hello.fingerprint = st.settings.fingerprint;
  hello.name = st.settings.name;
  self->request(st.frontend, std::chrono::seconds(10), join_atom::value, std::move(hello), st.engine)
      .then(
          [self](uint32_t id) {
            self->state.pending = false;
            self->state.id = id;
            self->state.backoff_s = kFirstBackoffS;
            if (const auto& a = self->state.address)
              log(self, "joined " + a->host + ":" + std::to_string(a->port) + " as worker " + std::to_string(id));
          },
          [self](caf::error& e) {
            self->state.pending = false;
            if (e == caf::sec::invalid_argument && self->state.address && self->state.address->refused) {
              self->state.address->refused(error_words(self->system(), e));
              return;
            }
            log(self, "join failed: " + self->system().render(e));
            retry_later(self);
          });
}

void connect(worker_pointer self) {
  auto& st = self->state;
  if (!st.address) {
    join(self);
    return;
  }
  st.pending = true;
  const auto mm = st.address->tls ? self->system().openssl_manager().actor_handle() : self->system().middleman().actor_handle();
  self->request(mm, std::chrono::seconds(10), caf::connect_atom::value, st.address->host, st.address->port)
      .then(
          [self](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>& ifs) {
            self->state.pending = false;
            if (!ptr || !self->system().assignable<frontend_api>(ifs)) {
              log(self, "the peer is not a pio front end");
              retry_later(self);
              return;
            }
            self->state.frontend = caf::actor_cast<frontend_api>(ptr);
            self->monitor(self->state.frontend);
            join(self);
          },
          [self](caf::error& e) {
            self->state.pending = false;
            log(self, "cannot reach the front end: " + self->system().render(e));
            retry_later(self);
          });
}

// The front end is gone: its requests were moved; this worker's copies of them are dropped
// with its engine group (a fresh one joins the next front end).
void frontend_lost(worker_pointer self, const caf::error& why) {
  auto& st = self->state;
  log(self, "lost the front end (" + self->system().render(why) + "); reconnecting");
  st.id = 0;
  st.frontend = nullptr;
  if (st.engine) {
    self->demonitor(st.engine.address());
    caf::anon_send_exit(st.engine, caf::exit_reason::user_shutdown);
    st.engine = nullptr;
  }
  retry_later(self);
}

worker_actor::behavior_type worker_behavior(worker_pointer self, WorkerSettings settings,
                                            std::optional<FrontendAddress> address, frontend_api frontend) {
  auto& st = self->state;
  st.settings = std::move(settings);
  st.address = std::move(address);
  st.frontend = std::move(frontend);
  self->attach_functor([self] {
    if (self->state.engine) caf::anon_send_exit(self->state.engine, caf::exit_reason::user_shutdown);
  });
  self->set_down_handler([self](caf::down_msg& down) {
    auto& st = self->state;
    if (st.engine && down.source == st.engine.address()) {  // the engine group died: a new one joins
      st.engine = nullptr;
      st.id = 0;
      if (is_device_lost(down.reason)) {
        if (!st.settings.engine.fallback) {
          log(self, self->system().render(down.reason) + "; with no CPU backend to go on with, the worker stops");
          self->quit(down.reason);
          return;
        }
        log(self, self->system().render(down.reason) + "; a new engine group goes on on the CPU");
        st.settings.engine = engine_on_fallback(std::move(st.settings.engine));
      }
      if (st.frontend) join(self);
    } else if (st.frontend && down.source == st.frontend.address()) {
      if (st.address) frontend_lost(self, down.reason);
      else self->quit();  // the node beside it stopped
    }
  });
  connect(self);
  self->send(self, tick_atom::value);
  return {
      [self](join_atom) {
        if (self->state.pending) return;
        if (!self->state.frontend) connect(self);
        else if (!self->state.id) join(self);
      },
      [self](tick_atom) {  // the load report; a drain ends when it shows nothing left
        auto& st = self->state;
        self->delayed_send(self, st.settings.report_interval, tick_atom::value);
        if (!st.engine) {
          drained(self);
          return;
        }
        self->request(st.engine, st.settings.report_interval, load_atom::value)
            .then(
                [self, id = st.id](const EngineLoad& load) {
                  if (load.running == 0 && load.waiting == 0) drained(self);
                  if (!id || self->state.id != id || !self->state.frontend) return;
                  WorkerReport report{load, {}};
                  if (const auto& cache = self->state.settings.engine.cache) report.cache = cache->stats();
                  self->send(self->state.frontend, report_atom::value, id, std::move(report));
                },
                [](caf::error&) {});
      },
      [self](drain_atom) {
        auto& st = self->state;
        st.draining = true;
        if (st.id && st.frontend) self->send(st.frontend, drain_atom::value, st.id);
        auto promise = self->make_response_promise<bool>();
        st.drain_waiters.push_back(promise);
        return promise;
      },
  };
}

}  // namespace

worker_actor spawn_local_worker(caf::actor_system& sys, WorkerSettings settings, frontend_api frontend) {
  return sys.spawn(worker_behavior, std::move(settings), std::optional<FrontendAddress>{}, std::move(frontend));
}

worker_actor spawn_remote_worker(caf::actor_system& sys, WorkerSettings settings, FrontendAddress frontend) {
  return sys.spawn(worker_behavior, std::move(settings), std::optional<FrontendAddress>{std::move(frontend)},
                   frontend_api{});
}

}  // namespace pio
