// pio-node's plain client-API port, guarded: the bytes of every connection accepted on it are
// checked (actors/basp_frames.h) as CAF receives them, and a connection that breaks the rules is
// shut down before CAF sees the header at fault: CAF reads a reset connection and frees it, the
// node serves on. Works by defining recv() in the executable, ahead of the C library's (CAF
// 0.17's TCP policy receives with recv). The TLS port needs no guard: CAF reads nothing from a
// peer before its certificate is verified.
#pragma once

#include <cstdint>

namespace pio::node {

// From here on, connections accepted on the listening `port` are checked; 0 checks none.
void check_basp_frames_on(uint16_t port);

// For the accept guard (descriptors.cpp): `fd` was just accepted on `listener`. Starts
// checking it when `listener` is the checked port, else forgets what an earlier socket with
// this descriptor number left.
void basp_connection_accepted(int listener, int fd);

}  // namespace pio::node
