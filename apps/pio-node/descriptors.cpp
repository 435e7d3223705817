#include "apps/pio-node/descriptors.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>

namespace {

using accept4_fn = int (*)(int, sockaddr*, socklen_t*, int);

std::atomic<bool> guarded{false};
long descriptor_limit = 0;  // the soft limit when guarding started
int spare_descriptors = 0;
int reserve = -1;           // /dev/null, given up to take a connection when none is left
std::mutex reserve_mutex;

accept4_fn real_accept4() {
  static const auto fn = reinterpret_cast<accept4_fn>(dlsym(RTLD_NEXT, "accept4"));
  return fn;
}

// accept4 under the guard: see guard_accept.
int guarded_accept(int listener, sockaddr* addr, socklen_t* len, int flags) {
  const int fd = real_accept4()(listener, addr, len, flags);
  if (!guarded.load(std::memory_order_acquire)) return fd;
  if (fd >= 0) {
    // Descriptors are handed out lowest first: fd N means N descriptors below it are in use.
    if (fd < descriptor_limit - spare_descriptors) return fd;
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
  // EMFILE: CAF logs and waits for the next event; cpp-httplib's loop retries.
  errno = EMFILE;
  return -1;
}

}  // namespace

namespace pio::node {

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

}  // namespace pio::node

// The executable's definitions come first in symbol lookup: libcaf_io's and libcpp-httplib's
// calls land here.
extern "C" int accept(int listener, sockaddr* addr, socklen_t* len) { return guarded_accept(listener, addr, len, 0); }
extern "C" int accept4(int listener, sockaddr* addr, socklen_t* len, int flags) {
  return guarded_accept(listener, addr, len, flags);
}
