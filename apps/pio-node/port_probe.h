// Whether the ports pio-node is told to listen on are free, asked before the model loads (which
// may take minutes), so a port in use is said at once instead of after the load.
#pragma once

#include <cstdint>
#include <string>

namespace pio::node {

// Empty when a listening socket could be bound to host:port now (with SO_REUSEADDR, as the
// node's own listeners are); else why not, in the system's words ("Address already in use"). A
// host that does not resolve is left to the listener to report. The answer can change before
// the node binds; the listener's own error still stands then.
std::string port_unavailable(const std::string& host, uint16_t port);

}  // namespace pio::node
