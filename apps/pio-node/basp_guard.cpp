#include "apps/pio-node/basp_guard.h"

#include <dlfcn.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <iostream>
#include <mutex>
#include <unordered_map>

#include "actors/basp_frames.h"
#include "apps/pio-node/descriptors.h"

namespace {

using recv_fn = ssize_t (*)(int, void*, size_t, int);

std::atomic<int> checked_port{0};
std::atomic<bool> any_checked{false};  // recv's fast path: nothing to look up before the first
std::mutex connections_mutex;

struct Connection {
  ino_t inode;  // the socket's (a closed descriptor's number is reused)
  pio::BaspFrameCheck check;
};
std::unordered_map<int, Connection> connections;

// recv's result for `received` bytes just read from fd: unchanged, or -1 (ECONNRESET) with the
// connection shut down when they complete a header the check refuses.
ssize_t checked(int fd, const void* buffer, ssize_t received) {
  std::lock_guard lock(connections_mutex);
  const auto it = connections.find(fd);
  if (it == connections.end()) return received;
  if (pio::node::socket_inode(fd) != it->second.inode) {  // closed by its owner, the number reused
    connections.erase(it);
    return received;
  }
  const std::string& refusal =
      it->second.check.feed({static_cast<const uint8_t*>(buffer), static_cast<size_t>(received)});
  if (refusal.empty()) return received;
  std::cerr << "pio-node: closed a client-API connection: " << refusal << "\n" << std::flush;
  connections.erase(it);
  ::shutdown(fd, SHUT_RDWR);
  errno = ECONNRESET;
  return -1;
}

}  // namespace

namespace pio::node {

void check_basp_frames_on(uint16_t port) { checked_port.store(port, std::memory_order_release); }

void basp_connection_accepted(int listener, int fd) {
  const int port = checked_port.load(std::memory_order_acquire);
  std::lock_guard lock(connections_mutex);
  if (port != 0 && pio::node::local_port(listener) == port) {
    connections.insert_or_assign(fd, Connection{pio::node::socket_inode(fd), BaspFrameCheck{}});
    any_checked.store(true, std::memory_order_release);
  } else {
    connections.erase(fd);
  }
}

}  // namespace pio::node

// The executable's definition comes first in symbol lookup: libcaf_io's calls land here.
extern "C" ssize_t recv(int fd, void* buffer, size_t length, int flags) {
  static const auto real_recv = reinterpret_cast<recv_fn>(dlsym(RTLD_NEXT, "recv"));
  const ssize_t received = real_recv(fd, buffer, length, flags);
  if (received <= 0 || (flags & MSG_PEEK) || !any_checked.load(std::memory_order_acquire)) return received;
  return checked(fd, buffer, received);
}
