// pio-node's file descriptors under pressure. CAF 0.17's acceptor ignores a failed accept()
// (EMFILE, ENFILE) and leaves the listening socket in its level-triggered epoll set, so with no
// descriptor left its network thread spins on the waiting connection until one frees up (80% of
// a core with `ulimit -n 64` and 100 idle connections), and every connection in flight stalls.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>

namespace pio::node {

// The socket's inode (0 for a descriptor that is no socket): tells a socket from a later one
// that reuses its closed descriptor's number.
ino_t socket_inode(int fd);

// The local port a socket is bound to; -1 when it cannot be read.
int local_port(int socket);

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
long raise_descriptor_limit();

// From here on, a connection accepted anywhere in this process (CAF's client-API port, the HTTP
// gateway) that would leave fewer than `spare` descriptors free is closed at once (the peer
// sees its connection closed), as is one that arrives when none is free at all (a reserved
// descriptor is given up to take it). The listening socket is drained either way, so the
// network thread waits instead of spinning, and `spare` descriptors stay for the node's own
// files. Works by defining accept() and accept4() in the executable, ahead of the C library's.
void guard_accept(int spare);

// From here on (guard_accept first), a connection accepted on the listening `port` that brings
// no byte for `limit` is shut down: its owner (CAF) sees it closed and frees the descriptor, so
// a peer that connects and stays silent, or stalls its TLS handshake, cannot hold one for good.
// A BASP peer sends a heartbeat every kHeartbeatInterval (actors/actor_system.h), so a live one is never
// that quiet. A watchdog thread checks once a second (TCP_INFO's bytes received).
void shut_idle_connections(uint16_t port, std::chrono::seconds limit);

}  // namespace pio::node
