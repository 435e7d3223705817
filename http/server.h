// The HTTP/1.1 transport under the gateway, over Boost.Beast (Debian's Boost 1.74): an asio
// io_context on a small fixed pool of threads, one strand per connection. It bounds what a client
// can make it hold before any handler runs: the header's size and field count, the body's size
// (chunked bodies included: refused with 413 once over, never buffered past the limit), the time
// to read a request, and the connections open at once (past max_open_connections, or when
// descriptors run short, a new connection is answered 429 and closed rather than reset).
// Pipelined requests are answered in order; a stream to an HTTP/1.0 client is ended by closing
// the connection instead of chunked encoding (RFC 9112 §6.1). A client that closes its
// connection while its answer is pending or streaming is noticed at once (Reply::on_done).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pio::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// A request as read off the connection.
struct HttpRequest {
  std::string method;   // as sent: "GET", "POST", ...
  std::string path;     // the target without its query string
  int version = 11;     // 10 (HTTP/1.0) or 11
  Headers headers;
  std::string body;     // empty in ServerHandlers::check (the body is not read yet)

  // The first value of the header `name` (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
};

// A whole answer. Content-Length, Connection and the framing are the transport's (to a HEAD
// request it goes without its body).
struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;
};

// One request's answer. Every method may be called from any thread and returns at once (the
// work runs on the connection's strand); calls after the answer ended, or once the client is
// gone, are ignored.
class Reply {
 public:
  virtual ~Reply() = default;
  // The whole answer.
  virtual void respond(HttpResponse response) = 0;
  // A 200 stream of `content_type` with `headers`: chunked to an HTTP/1.1 client, delimited by
  // closing the connection to an HTTP/1.0 one. Then write() its pieces and end_stream().
  virtual void open_stream(std::string content_type, Headers headers) = 0;
  // One piece of an open stream ("" is ignored).
  virtual void write(std::string data) = 0;
  virtual void end_stream() = 0;
  // `done` is called once, on a transport thread: true when the answer was wholly written,
  // false when the client went away (or the server stopped) first. Called at once, on the
  // caller's thread, when that is already known.
  virtual void on_done(std::function<void(bool completed)> done) = 0;
};

struct ServerSettings {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                        // 0: any free port
  int backlog = 1024;                       // the listen queue (the kernel caps it at somaxconn)
  int threads = 2;                          // the io_context's threads
  std::size_t max_header_bytes = 64 << 10;  // the request line and header fields together (431)
  std::size_t max_header_fields = 100;      // header fields (431)
  uint64_t max_body_bytes = 64 << 20;       // chunked or not (413)
  std::chrono::milliseconds read_timeout{30000};   // to read one request, header and body
  std::chrono::milliseconds write_timeout{30000};  // for one write to go out
  int max_open_connections = 256;           // more at once get 429
  // A connection accepted on a descriptor within this many of RLIMIT_NOFILE gets 429 (0: off).
  long descriptor_reserve = 0;
};

struct ServerHandlers {
  // Runs once the header is read, before the body is: an answer given here is sent and the
  // connection closed (the body is never read). On a transport thread: must not block.
  std::function<std::optional<HttpResponse>(const HttpRequest& head)> check;
  // Runs once the body is read, on a transport thread (must not block: long work goes
  // elsewhere); answers through `reply`. The next request on the connection waits for it.
  std::function<void(HttpRequest request, std::shared_ptr<Reply> reply)> handle;
  // The answer for the transport's own refusals (400, 413, 429, 431), given status, message and
  // the request's head as far as it was read (empty before its header was: method "").
  std::function<HttpResponse(int status, const std::string& message, const HttpRequest& head)> error;
  // Called once per answer with the request's path ("" when no request was read) and its
  // status (499: the client went away before any answer).
  std::function<void(const std::string& path, int status)> log;
};

class HttpServer {
 public:
  HttpServer(ServerSettings settings, ServerHandlers handlers);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the threads; returns the port. Throws std::runtime_error when
  // the address cannot be resolved or bound.
  uint16_t start();
  // Closes the listener and every connection (pending replies get on_done(false)) and joins the
  // threads (bounded: 2 s for connections to close). Idempotent.
  void stop();

  struct State;  // the implementation's

 private:
  std::shared_ptr<State> state_;
};

}  // namespace pio::http
