// A worker: one engine group that joins a front end and serves its jobs. In a single-process
// node it joins the front end beside it; in `pio-node --role worker` it connects to a front end
// in another process (or machine) through CAF's middleman (its OpenSSL module with TLS) without
// blocking, joins, reports its load every few hundred milliseconds, restarts its engine group if
// it dies (and joins again), and when the front end is lost (its proxy goes down: killed, frozen,
// cut off, restarted) drops its work (the front end moved it) and reconnects with backoff and
// jitter.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <caf/actor_system.hpp>

#include "actors/engine_actor.h"
#include "actors/interfaces.h"

namespace pio {

// drain: stop taking jobs (the front end gives it none), reply true once nothing runs.
// The other messages are the agent's own timers.
using worker_actor = caf::typed_actor<caf::replies_to<drain_atom>::with<bool>,
                                      caf::reacts_to<tick_atom>,
                                      caf::reacts_to<join_atom>>;

struct WorkerSettings {
  EngineSettings engine;
  std::string fingerprint;  // the checkpoint's (storage/fingerprint.h); the front end must have the same
  std::string name;         // for the front end's logs and stats
  std::chrono::milliseconds report_interval{250};
};

// Where a remote worker's front end is; `refused` is called (from an actor's thread) with the
// front end's reason when it refuses the join: a worker that can never join should exit.
struct FrontendAddress {
  std::string host;
  uint16_t port = 0;
  bool tls = false;  // through CAF's OpenSSL module (the actor system must have loaded it)
  std::function<void(const std::string&)> refused;
};

// A worker joined to a front end in this process.
worker_actor spawn_local_worker(caf::actor_system& sys, WorkerSettings settings, frontend_api frontend);

// A worker that connects to a front end in another process and stays joined across its losses.
worker_actor spawn_remote_worker(caf::actor_system& sys, WorkerSettings settings, FrontendAddress frontend);

}  // namespace pio
