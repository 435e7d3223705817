// The HTTP transport (http/server.h) with stand-in handlers, over real loopback sockets:
// pipelining, stream framing for HTTP/1.1 and HTTP/1.0, the header, body and connection bounds,
// the pre-body check, and a client that goes away or a server that stops while an answer is
// pending (Reply::on_done).
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "http/server.h"

using namespace pio::http;

namespace {

// A blocking loopback client socket.
class Peer {
 public:
  explicit Peer(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Peer() { close(); }
  void send(const std::string& data) {
    for (std::size_t sent = 0; sent < data.size();) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server closed: what it answered is what counts
      sent += static_cast<std::size_t>(n);
    }
  }
  // Reads until `stop` is in what was read, the server closes, or 5 s pass.
  std::string read_until(const std::string& stop = "") {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (stop.empty() || got_.find(stop) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[65536];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      got_.append(buf, static_cast<std::size_t>(n));
    }
    return got_;
  }
  bool closed() const { return closed_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
  std::string got_;
  bool closed_ = false;
};

// How often a substring occurs.
std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// A server whose handler answers the path, or holds the reply for the test (path /hold).
struct Fixture {
  explicit Fixture(ServerSettings settings = {}) {
    ServerHandlers handlers;
    handlers.check = [](const HttpRequest& head) -> std::optional<HttpResponse> {
      if (head.path == "/secret") return HttpResponse{401, "text/plain", "no", {}};
      return std::nullopt;
    };
    handlers.handle = [this](HttpRequest request, std::shared_ptr<Reply> reply) {
      ++handled;
      if (request.path == "/hold") {
        std::lock_guard lock(mutex);
        held = reply;
        held_cv.notify_all();
        return;
      }
      if (request.path == "/stream") {
        reply->open_stream("text/plain", {});
        reply->write("ab");
        reply->write("");
        reply->write("cde");
        reply->end_stream();
        return;
      }
      reply->respond({200, "text/plain", request.method + " " + request.path + " " + request.body, {}});
    };
    handlers.error = [](int status, const std::string& message, const HttpRequest& head) {
      return HttpResponse{status, "text/plain", message + (head.method.empty() ? "" : " (" + head.method + " " + head.path + ")"), {}};
    };
    server = std::make_unique<HttpServer>(std::move(settings), std::move(handlers));
    port = server->start();
  }
  // The reply of the request to /hold, once it arrived (null after 5 s).
  std::shared_ptr<Reply> wait_held() {
    std::unique_lock lock(mutex);
    held_cv.wait_for(lock, std::chrono::seconds(5), [&] { return held != nullptr; });
    return held;
  }

  std::unique_ptr<HttpServer> server;
  uint16_t port = 0;
  std::atomic<int> handled{0};
  std::mutex mutex;
  std::condition_variable held_cv;
  std::shared_ptr<Reply> held;
};

// Waits up to 5 s for a reply's on_done; -1 when it was not called.
int done_within(const std::shared_ptr<Reply>& reply) {
  auto done = std::make_shared<std::promise<bool>>();
  auto outcome = done->get_future();
  reply->on_done([done](bool completed) { done->set_value(completed); });
  if (outcome.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return -1;
  return outcome.get() ? 1 : 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_server)

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
  Fixture f;
  Peer peer(f.port);
  peer.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
            "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
            "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nthr\r\n2\r\nee\r\n0\r\n\r\n");
  const std::string got = peer.read_until("POST /c three");
  const auto a = got.find("POST /a one"), b = got.find("2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"), c = got.find("POST /c three");
  BOOST_TEST(a != std::string::npos);
  BOOST_TEST(b != std::string::npos);
  BOOST_TEST(c != std::string::npos);
  BOOST_TEST((a < b && b < c));
  BOOST_TEST(count(got, "HTTP/1.1 200 OK") == 3u);
  BOOST_TEST(!peer.closed());
}

BOOST_AUTO_TEST_CASE(an_http10_stream_is_not_chunked_and_ends_by_closing) {
  Fixture f;
  Peer peer(f.port);
  peer.send("GET /stream HTTP/1.0\r\n\r\n");
  const std::string got = peer.read_until();
  BOOST_TEST(peer.closed());
  BOOST_TEST(got.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  BOOST_TEST(got.find("Transfer-Encoding") == std::string::npos);
  BOOST_TEST(got.substr(got.find("\r\n\r\n") + 4) == "abcde");
}

BOOST_AUTO_TEST_CASE(a_chunked_body_over_the_limit_gets_413_unread) {
  ServerSettings settings;
  settings.max_body_bytes = 1000;
  Fixture f(settings);
  Peer peer(f.port);
  std::string chunks;
  for (int i = 0; i < 100; ++i) chunks += "64\r\n" + std::string(100, 'x') + "\r\n";
  peer.send("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks);
  const std::string got = peer.read_until();
  BOOST_TEST(got.rfind("HTTP/1.1 413", 0) == 0);
  BOOST_TEST(got.find("(POST /a)") != std::string::npos, got);  // the refusal knows the request (its CORS headers)
  BOOST_TEST(peer.closed());
  BOOST_TEST(f.handled == 0);
}

// A declared Content-Length over the limit is refused as the header ends, before the body.
BOOST_AUTO_TEST_CASE(a_declared_length_over_the_limit_gets_413_knowing_the_request) {
  ServerSettings settings;
  settings.max_body_bytes = 1000;
  Fixture f(settings);
  Peer peer(f.port);
  peer.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
  const std::string got = peer.read_until();
  BOOST_TEST(got.rfind("HTTP/1.1 413", 0) == 0);
  BOOST_TEST(got.find("(POST /b)") != std::string::npos, got);
  BOOST_TEST(f.handled == 0);
}

// RFC 9112 in a request's head: a target in absolute form is served as its path (§3.2.2), a
// trailing '/' dropped as pio's routes have none; an
// HTTP/1.1 request without Host is a 400 (§3.2), a transfer coding other than chunked a 501
// (§6.1), and a compressed body a 415 (bodies are read as sent); HTTP/1.0 needs no Host.
BOOST_AUTO_TEST_CASE(request_heads_are_read_and_refused_as_rfc_9112_says) {
  Fixture f;
  Peer absolute(f.port);
  absolute.send("GET http://127.0.0.1/a?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const std::string got = absolute.read_until("GET /a");
  BOOST_TEST(got.rfind("HTTP/1.1 200", 0) == 0, got);
  Peer slash(f.port);
  slash.send("GET /a/b/?x=/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const std::string served = slash.read_until("GET /a/b");
  BOOST_TEST(served.find("GET /a/b/") == std::string::npos, served);
  const auto status_of = [&](const std::string& request) {
    Peer peer(f.port);
    peer.send(request);
    return peer.read_until().substr(0, 12);
  };
  BOOST_TEST(status_of("GET /a HTTP/1.1\r\n\r\n") == "HTTP/1.1 400");
  BOOST_TEST(status_of("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n") ==
             "HTTP/1.1 501");
  BOOST_TEST(status_of("POST /a HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nab") ==
             "HTTP/1.1 415");
  BOOST_TEST(status_of("GET /a HTTP/1.0\r\n\r\n") == "HTTP/1.0 200");
  BOOST_TEST(f.handled == 3);
}

BOOST_AUTO_TEST_CASE(a_header_over_the_limit_or_with_too_many_fields_gets_431) {
  ServerSettings settings;
  settings.max_header_bytes = 4096;
  settings.max_header_fields = 10;
  Fixture f(settings);
  Peer long_line(f.port);
  long_line.send("GET /a HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(100000, 'a'));
  BOOST_TEST(long_line.read_until().rfind("HTTP/1.1 431", 0) == 0);
  std::string fields;
  for (int i = 0; i < 11; ++i) fields += "X-" + std::to_string(i) + ": 1\r\n";
  Peer many(f.port);
  many.send("GET /a HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n");
  BOOST_TEST(many.read_until().rfind("HTTP/1.1 431", 0) == 0);
  Peer ten(f.port);  // Host and 9 more
  const std::string nine = fields.substr(fields.find('\n', fields.find('\n') + 1) + 1);
  ten.send("GET /a HTTP/1.1\r\nHost: x\r\n" + nine + "\r\n");
  BOOST_TEST(ten.read_until("GET /a").rfind("HTTP/1.1 200", 0) == 0);
  BOOST_TEST(f.handled == 1);
}

// Sockets of this process on local port `port` in CLOSE-WAIT: the peer closed, this side not.
int close_wait_sockets(uint16_t port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // the header
  int count = 0;
  char local_port[5];
  std::snprintf(local_port, sizeof local_port, "%04X", port);
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    count += local.substr(local.find(':') + 1) == local_port && state == "08";  // 08: CLOSE_WAIT
  }
  return count;
}

// Clients that close as soon as they have read their answer: the server closes its side at once,
// every time. It left some in CLOSE-WAIT until the read timeout (the client's end of stream
// raced the end of the answer, and the next read never saw it).
BOOST_AUTO_TEST_CASE(a_client_that_closes_after_its_answer_is_closed_at_once) {
  ServerSettings settings;
  settings.read_timeout = std::chrono::seconds(60);
  Fixture f(settings);
  for (int i = 0; i < 300; ++i) {
    Peer peer(f.port);
    peer.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    BOOST_TEST_REQUIRE(peer.read_until("GET /a").rfind("HTTP/1.1 200", 0) == 0);
  }
  int left = close_wait_sockets(f.port);
  for (int i = 0; i < 100 && left > 0; ++i, left = close_wait_sockets(f.port))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(left == 0);
}

BOOST_AUTO_TEST_CASE(a_request_not_sent_within_the_read_timeout_is_closed) {
  ServerSettings settings;
  settings.read_timeout = std::chrono::milliseconds(300);
  Fixture f(settings);
  Peer peer(f.port);
  peer.send("GET /a HTTP/1.1\r\nHost: x\r\n");
  const auto t0 = std::chrono::steady_clock::now();
  peer.read_until();
  BOOST_TEST(peer.closed());
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2)));
  BOOST_TEST(f.handled == 0);
}

BOOST_AUTO_TEST_CASE(the_check_answers_before_the_body_is_read) {
  Fixture f;
  Peer peer(f.port);
  peer.send("POST /secret HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\npartial");
  const std::string got = peer.read_until();
  BOOST_TEST(got.rfind("HTTP/1.1 401", 0) == 0);
  BOOST_TEST(peer.closed());
  BOOST_TEST(f.handled == 0);
}

BOOST_AUTO_TEST_CASE(connections_past_the_cap_get_429) {
  ServerSettings settings;
  settings.max_open_connections = 2;
  Fixture f(settings);
  Peer one(f.port), two(f.port);
  one.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  two.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST(one.read_until("GET /a").find("200 OK") != std::string::npos);
  BOOST_TEST(two.read_until("GET /b").find("200 OK") != std::string::npos);
  Peer three(f.port);
  const std::string got = three.read_until();
  BOOST_TEST(got.rfind("HTTP/1.1 429", 0) == 0);
  BOOST_TEST(got.find("Retry-After: 1") != std::string::npos);
  BOOST_TEST(three.closed());
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_answered_before_the_body) {
  Fixture f;
  Peer peer(f.port);
  peer.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  BOOST_TEST(peer.read_until("\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n");
  peer.send("body");
  BOOST_TEST(peer.read_until("POST /a body").find("HTTP/1.1 200 OK") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_head_request_gets_the_header_only) {
  Fixture f;
  Peer peer(f.port);
  peer.send("HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string got = peer.read_until("GET /b");
  BOOST_TEST(got.find("Content-Length: 8\r\n") != std::string::npos);  // "HEAD /a "
  BOOST_TEST(got.find("HEAD /a") == std::string::npos);
  BOOST_TEST(count(got, "HTTP/1.1 200 OK") == 2u);
}

BOOST_AUTO_TEST_CASE(a_client_that_leaves_abandons_its_pending_answer) {
  Fixture f;
  Peer peer(f.port);
  peer.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto reply = f.wait_held();
  BOOST_REQUIRE(reply);
  peer.close();
  BOOST_TEST(done_within(reply) == 0);
  reply->respond({200, "text/plain", "late", {}});  // ignored
}

BOOST_AUTO_TEST_CASE(a_held_answer_completes_and_the_connection_serves_on) {
  Fixture f;
  Peer peer(f.port);
  peer.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto reply = f.wait_held();
  BOOST_REQUIRE(reply);
  reply->respond({200, "text/plain", "held", {}});
  BOOST_TEST(done_within(reply) == 1);
  const std::string got = peer.read_until("GET /next");
  BOOST_TEST(got.find("held") < got.find("GET /next"));
}

BOOST_AUTO_TEST_CASE(a_held_answer_survives_a_client_sending_far_ahead) {
  Fixture f;
  Peer peer(f.port);
  // The pipelined request behind fills the read buffer: the connection stops reading, and lives.
  peer.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\nPOST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" + std::string(300000, 'x'));
  const auto reply = f.wait_held();
  BOOST_REQUIRE(reply);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  reply->respond({200, "text/plain", "held", {}});
  BOOST_TEST(done_within(reply) == 1);
  const std::string got = peer.read_until("POST /big x");
  BOOST_TEST(got.find("held") < got.find("POST /big x"));
}

BOOST_AUTO_TEST_CASE(stopping_abandons_pending_answers) {
  Fixture f;
  Peer peer(f.port);
  peer.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto reply = f.wait_held();
  BOOST_REQUIRE(reply);
  f.server->stop();
  BOOST_TEST(done_within(reply) == 0);
  peer.read_until();
  BOOST_TEST(peer.closed());
  f.server.reset();
  reply->write("after the server is gone");  // posts nothing
}

BOOST_AUTO_TEST_SUITE_END()
