// A workaround for CAF 0.17's OpenSSL module: after a failed handshake (a plaintext peer, a
// certificate from another CA) its session (caf/openssl/session.cpp, handle_ssl_result) leaves
// OpenSSL's per-thread error queue full, and SSL_get_error reads that queue. The next SSL_read
// of any healthy session on the same network thread that merely waits for bytes then looks fatal
// and that connection is closed: one stray peer disconnected every worker and client of a TLS
// node. OpenSSL requires an empty queue before each TLS I/O call (SSL_get_error(3)); this
// process defines SSL_read, SSL_write, SSL_accept and SSL_connect, which empty it and call
// libssl's. They take precedence for libcaf_openssl only in an executable that exports its
// symbols (CMake ENABLE_EXPORTS, as pio-node and pio have).
#pragma once

namespace pio {

// True when this process's definitions are the ones the dynamic linker resolves (the queue is
// emptied before every TLS I/O call); linking this file in is what installs them.
bool tls_error_queue_guarded();

}  // namespace pio
