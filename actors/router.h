// The router actor: a thin wrapper around EngineRouter over the workers' engine group handles
// (in this process or another), holding the jobs that wait for a worker to join.
#pragma once

#include <string>

#include <caf/actor_system.hpp>

#include "actors/interfaces.h"

namespace pio {

// policy: round_robin, least_loaded or prefix_affinity (serving/routing_policy.h); throws
// std::invalid_argument for another name. kv_replicas: copy each job's KV blocks to a second
// worker (serving/kv_replicas.h).
router_actor spawn_router(caf::actor_system& sys, const std::string& policy, bool kv_replicas = false);

}  // namespace pio
