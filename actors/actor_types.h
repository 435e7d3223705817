// The one place that registers every message type with an actor system, under stable names;
// a node and its clients (and later its worker processes) must all call it.
#pragma once

#include <caf/actor_system_config.hpp>

namespace pio {

void register_message_types(caf::actor_system_config& cfg);

}  // namespace pio
