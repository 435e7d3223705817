// The router actor: a thin wrapper around EngineRouter over engine group handles. One local
// group in a single node; worker processes add remote ones through the same messages.
#pragma once

#include <caf/actor_system.hpp>

#include "actors/interfaces.h"

namespace pio {

// `groups` slots, each filled by a `group` message before jobs arrive.
router_actor spawn_router(caf::actor_system& sys, uint32_t groups);

}  // namespace pio
