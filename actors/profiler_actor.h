// The profiler actor: a thin wrapper around Profiler. Prints the detected hardware and the
// configuration derived from it once at start (through the logger given).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>

#include "actors/interfaces.h"
#include "serving/profiler.h"

namespace pio {

// `profiler` is shared so that an HTTP gateway can read its registry.
profiler_actor spawn_profiler(caf::actor_system& sys, std::shared_ptr<Profiler> profiler);

}  // namespace pio
