#include "http/connection_probe.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace pio::http {
namespace {

// The numeric address and port of a socket's end, as cpp-httplib prints them.
bool numeric(const sockaddr_storage& addr, socklen_t len, std::string& host, int& port) {
  char h[NI_MAXHOST], p[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, h, sizeof h, p, sizeof p,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  host = h;
  port = std::atoi(p);
  return true;
}

bool end_is(int fd, bool peer, const std::string& host, int port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                      : getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string h;
  int p = -1;
  return rc == 0 && numeric(addr, len, h, p) && p == port && h == host;
}

}  // namespace

ConnectionProbe::ConnectionProbe(const std::string& local_addr, int local_port, const std::string& remote_addr,
                                 int remote_port) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    char* end = nullptr;
    const std::string name = entry.path().filename().string();
    const long fd = std::strtol(name.c_str(), &end, 10);
    if (*end != '\0') continue;
    std::error_code link_error;
    if (std::filesystem::read_symlink(entry.path(), link_error).string().rfind("socket:", 0) != 0) continue;
    if (end_is(static_cast<int>(fd), true, remote_addr, remote_port) &&
        end_is(static_cast<int>(fd), false, local_addr, local_port)) {
      fd_ = static_cast<int>(fd);
      return;
    }
  }
}

bool ConnectionProbe::closed() const {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return true;
  char byte;
  return recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;  // end of stream
}

}  // namespace pio::http
