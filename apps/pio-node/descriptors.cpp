#include "apps/pio-node/descriptors.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/tcp.h>  // struct tcp_info with tcpi_bytes_received (glibc's lacks it)
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>
#include <vector>

#include "apps/pio-node/basp_guard.h"

namespace {

using accept4_fn = int (*)(int, sockaddr*, socklen_t*, int);

std::atomic<bool> guarded{false};
long descriptor_limit = 0;  // the soft limit when guarding started
int spare_descriptors = 0;
int reserve = -1;           // /dev/null, given up to take a connection when none is left
std::mutex reserve_mutex;

// Connections accepted on the watched port (shut_idle_connections), each with the socket's
// inode (a closed descriptor's number is reused) and when its received byte count last grew.
struct Watched {
  int fd;
  ino_t inode;
  uint64_t bytes_received;
  std::chrono::steady_clock::time_point last_byte;
};
std::atomic<int> watched_port{-1};
std::mutex watched_mutex;
std::vector<Watched> watched;

uint64_t bytes_received(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 ? info.tcpi_bytes_received : 0;
}

void watch(int listener, int fd) {
  const int port = watched_port.load(std::memory_order_acquire);
  if (port < 0 || pio::node::local_port(listener) != port) return;
  std::lock_guard lock(watched_mutex);
  watched.push_back({fd, pio::node::socket_inode(fd), 0, std::chrono::steady_clock::now()});
}

// One watchdog pass: forget closed connections, shut down those quiet for `limit`.
void shut_quiet(std::chrono::seconds limit) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(watched_mutex);
  std::erase_if(watched, [&](Watched& w) {
    if (pio::node::socket_inode(w.fd) != w.inode) return true;  // closed by its owner (and perhaps reused)
    const uint64_t received = bytes_received(w.fd);
    if (received != w.bytes_received) {
      w.bytes_received = received;
      w.last_byte = now;
      return false;
    }
    if (now - w.last_byte < limit) return false;
    ::shutdown(w.fd, SHUT_RDWR);
    return true;
  });
}

accept4_fn real_accept4() {
  static const auto fn = reinterpret_cast<accept4_fn>(dlsym(RTLD_NEXT, "accept4"));
  return fn;
}

// accept4 under the guard: see guard_accept.
int guarded_accept(int listener, sockaddr* addr, socklen_t* len, int flags) {
  const int fd = real_accept4()(listener, addr, len, flags);
  if (fd >= 0) pio::node::basp_connection_accepted(listener, fd);
  if (!guarded.load(std::memory_order_acquire)) return fd;
  if (fd >= 0) {
    // Descriptors are handed out lowest first: fd N means N descriptors below it are in use.
    if (fd < descriptor_limit - spare_descriptors) {
      watch(listener, fd);
      return fd;
    }
    ::close(fd);
  } else {
    if (errno != EMFILE && errno != ENFILE) return fd;
    std::lock_guard lock(reserve_mutex);
    if (reserve >= 0) {
      ::close(reserve);
      const int taken = real_accept4()(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (taken >= 0) ::close(taken);
      reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
  }
  // EMFILE: CAF logs and waits for the next event; the HTTP server pauses briefly and retries.
  errno = EMFILE;
  return -1;
}

}  // namespace

namespace pio::node {

ino_t socket_inode(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

int local_port(int socket) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (getsockname(socket, reinterpret_cast<sockaddr*>(&local), &len) != 0) return -1;
  return ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(local).sin6_port
                                           : reinterpret_cast<sockaddr_in&>(local).sin_port);
}

long raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<long>(limit.rlim_cur);
}

void guard_accept(int spare) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  descriptor_limit = limit.rlim_cur == RLIM_INFINITY ? (1L << 30) : static_cast<long>(limit.rlim_cur);
  spare_descriptors = spare;
  reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  guarded.store(true, std::memory_order_release);
}

void shut_idle_connections(uint16_t port, std::chrono::seconds limit) {
  watched_port.store(port, std::memory_order_release);
  std::thread([limit] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      shut_quiet(limit);
    }
  }).detach();
}

}  // namespace pio::node

// The executable's definitions come first in symbol lookup: libcaf_io's and Boost.Asio's
// calls land here.
extern "C" int accept(int listener, sockaddr* addr, socklen_t* len) { return guarded_accept(listener, addr, len, 0); }
extern "C" int accept4(int listener, sockaddr* addr, socklen_t* len, int flags) {
  return guarded_accept(listener, addr, len, flags);
}
