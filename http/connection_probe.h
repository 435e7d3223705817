// Notices an HTTP client that went away while its handler waits with nothing to write (a long
// prefill, a non-streaming answer). cpp-httplib does not hand handlers their socket, so the
// probe finds it by the connection's two addresses among the process's descriptors, once per
// request: while the handler runs, the connection is open, so the match is that connection.
#pragma once

#include <string>

namespace pio::http {

class ConnectionProbe {
 public:
  // The TCP socket whose local end is local_addr:local_port and whose peer is
  // remote_addr:remote_port (numeric addresses, as cpp-httplib's Request gives them). When none
  // matches, closed() is always false.
  ConnectionProbe(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port);

  // True when the peer closed the connection or it failed; bytes the client sent ahead
  // (a pipelined request) are not a close. Never blocks.
  bool closed() const;
  bool found() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace pio::http
