#include "http/server.h"

#include <sys/resource.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace pio::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Executor = beast::tcp_stream::executor_type;

// After an answer that ends the connection: how long the unread rest of a request is read and
// dropped, so that closing does not reset the answer away before the client reads it.
constexpr auto kLinger = std::chrono::milliseconds(1000);
// The pause before accepting again when the process is out of descriptors.
constexpr auto kAcceptPause = std::chrono::milliseconds(50);

bool iequals(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()), beast::string_view(b.data(), b.size()));
}

// Posts work to live connections until the server stops (after which nothing may be posted:
// the io_context goes away, while replies held by other threads may live on).
struct Gate {
  std::mutex mutex;
  bool open = true;
  // Runs f(session) on the session's strand, when the session still lives.
  template <class S, class F>
  void post(const std::weak_ptr<S>& session, F&& f) {
    std::lock_guard lock(mutex);
    if (!open) return;
    if (auto s = session.lock()) {
      auto executor = s->executor();
      net::post(executor, [s = std::move(s), f = std::forward<F>(f)]() mutable { f(*s); });
    }
  }
  void close() {
    std::lock_guard lock(mutex);
    open = false;
  }
};

class Session;

// A Reply bound to one request on one connection.
class Exchange : public Reply, public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::weak_ptr<Session> session, std::shared_ptr<Gate> gate)
      : session_(std::move(session)), gate_(std::move(gate)) {}

  void respond(HttpResponse response) override;
  void open_stream(std::string content_type, Headers headers) override;
  void write(std::string data) override;
  void end_stream() override;
  void on_done(std::function<void(bool)> done) override {
    std::unique_lock lock(mutex_);
    if (!outcome_) {
      done_ = std::move(done);
      return;
    }
    const bool completed = *outcome_;
    lock.unlock();
    done(completed);
  }
  // The outcome, once (later calls are ignored).
  void finish(bool completed) {
    std::unique_lock lock(mutex_);
    if (outcome_) return;
    outcome_ = completed;
    auto done = std::move(done_);
    lock.unlock();
    if (done) done(completed);
  }

 private:
  template <class F>
  void post(F f);

  std::weak_ptr<Session> session_;
  std::shared_ptr<Gate> gate_;
  std::mutex mutex_;
  std::optional<bool> outcome_;
  std::function<void(bool)> done_;
};

}  // namespace

struct HttpServer::State {
  ServerSettings settings;
  ServerHandlers handlers;
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  long descriptor_limit = 0;
  std::atomic<int> open{0};
  std::mutex sessions_mutex;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  // Declared after what sessions touch as they go: the io_context destroys them.
  net::io_context ioc;
  tcp::acceptor acceptor{net::make_strand(ioc)};  // accepting and closing on one strand
  net::steady_timer accept_pause{acceptor.get_executor()};
  std::vector<std::thread> threads;
  bool started = false, stopped = false;

  void accept();
};

namespace {

using State = HttpServer::State;

// One connection: reads a request, hands it to the handler, writes the answer, reads the next.
// Everything runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(State& state, tcp::socket socket) : state_(state), stream_(std::move(socket)) {
    buffer_.max_size(state_.settings.max_header_bytes + kReadChunk);
    ++state_.open;
  }
  ~Session() {
    if (exchange_) exchange_->finish(false);
    --state_.open;
    std::lock_guard lock(state_.sessions_mutex);
    state_.sessions.erase(this);
  }
  Executor executor() { return stream_.get_executor(); }

  void run() { read_header(); }
  // Answers `status` without reading anything and closes.
  void refuse(int status, const std::string& message) { transport_error(status, message); }
  // The server stops: the pending answer, if any, is abandoned.
  void close() { gone(); }
  // After the io_context's threads are gone: lets go of the session's hold on itself.
  void release() { pending_self_.reset(); }

  void respond(Exchange* ex, HttpResponse response) {
    if (!current(ex) || framing_ != Framing::none) return;
    framing_ = Framing::whole;
    log(response.status);
    out_ += serialize(response, version_, keep_alive_, !head_only_);
    after_ = keep_alive_ ? After::next : After::close;
    flush();
  }
  void open_stream(Exchange* ex, std::string content_type, Headers headers) {
    if (!current(ex) || framing_ != Framing::none) return;
    log(200);
    bhttp::response<bhttp::empty_body> res{bhttp::status::ok, version_};
    res.set(bhttp::field::content_type, content_type);
    for (const auto& [name, value] : headers) res.set(name, value);
    if (version_ >= 11) {
      framing_ = Framing::chunked;
      res.chunked(true);
      res.keep_alive(keep_alive_);
    } else {
      framing_ = Framing::until_close;  // RFC 9112 §6.1: no chunked encoding for HTTP/1.0
      keep_alive_ = false;
      res.set(bhttp::field::connection, "close");
    }
    std::ostringstream header;
    header << res.base();
    out_ += header.str();
    flush();
  }
  void write(Exchange* ex, std::string data) {
    if (!current(ex) || data.empty() || after_ != After::nothing) return;
    if (framing_ == Framing::chunked) {
      char size[20];
      std::snprintf(size, sizeof size, "%zx\r\n", data.size());  // RFC 9112 §7.1
      out_ += size;
      out_ += data;
      out_ += "\r\n";
    } else if (framing_ == Framing::until_close) {
      out_ += data;
    } else {
      return;
    }
    flush();
  }
  void end_stream(Exchange* ex) {
    if (!current(ex) || after_ != After::nothing) return;
    if (framing_ == Framing::chunked) {
      out_ += "0\r\n\r\n";
      after_ = keep_alive_ ? After::next : After::close;
    } else if (framing_ == Framing::until_close) {
      after_ = After::close;
    } else {
      return;
    }
    flush();
  }

 private:
  static constexpr std::size_t kReadChunk = 64 << 10;
  enum class Framing { none, whole, chunked, until_close };
  // What follows once everything queued is written.
  enum class After { nothing, next, close };

  bool current(Exchange* ex) const { return !closed_ && exchange_ && exchange_.get() == ex; }

  void log(int status) {
    if (state_.handlers.log) state_.handlers.log(path_, status);
  }

  // The answer's bytes; without its body (for HEAD) it keeps the body's Content-Length.
  static std::string serialize(const HttpResponse& r, unsigned version, bool keep_alive, bool with_body = true) {
    bhttp::response<bhttp::string_body> res;
    res.version(version);
    res.result(static_cast<unsigned>(r.status));
    res.set(bhttp::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res.set(name, value);
    res.body() = r.body;
    res.keep_alive(keep_alive);
    if (!keep_alive && version >= 11) res.set(bhttp::field::connection, "close");
    res.prepare_payload();
    std::ostringstream out;
    if (with_body) out << res;
    else out << res.base();
    return out.str();
  }

  void read_header() {
    if (closed_) return;
    parser_.emplace();
    head_ = HttpRequest{};  // a refusal before the header is read has no head
    parser_->header_limit(static_cast<std::uint32_t>(state_.settings.max_header_bytes));
    parser_->body_limit(state_.settings.max_body_bytes);
    path_.clear();
    framing_ = Framing::none;
    version_ = 11;
    keep_alive_ = false;
    head_only_ = false;
    stream_.expires_after(state_.settings.read_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return read_failed(ec);
    const auto& h = parser_->get();
    if (std::distance(h.begin(), h.end()) > static_cast<std::ptrdiff_t>(state_.settings.max_header_fields))
      return transport_error(431, "the request has more than " + std::to_string(state_.settings.max_header_fields) +
                                      " header fields");
    head_ = head_of(h);
    path_ = head_.path;
    head_only_ = h.method() == bhttp::verb::head;
    version_ = h.version() >= 11 ? 11 : 10;
    keep_alive_ = parser_->keep_alive();
    if (const auto refusal = framing_refusal(h)) return transport_error(refusal->status, refusal->message);
    if (state_.handlers.check) {
      if (auto answer = state_.handlers.check(head_)) {
        // A body left unread ends the connection; without one, the next request may follow.
        const bool keep = keep_alive_ && parser_->is_done();
        framing_ = Framing::whole;
        log(answer->status);
        out_ += serialize(*answer, version_, keep, !head_only_);
        after_ = keep ? After::next : After::close;
        return flush();
      }
    }
    if (parser_->is_done()) return on_body({});
    if (iequals(head_.header("Expect"), "100-continue")) {
      continue_ = "HTTP/1.1 100 Continue\r\n\r\n";
      return net::async_write(stream_, net::buffer(continue_), [self = shared_from_this()](beast::error_code e, std::size_t) {
        if (e) return self->gone();
        self->read_body();
      });
    }
    read_body();
  }

  void read_body() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec) return read_failed(ec);
    HttpRequest request = std::move(head_);
    request.body = std::move(parser_->get().body());
    parser_.reset();
    exchange_ = std::make_shared<Exchange>(weak_from_this(), state_.gate);
    pending_self_ = shared_from_this();  // alive until answered, even with no read pending
    stream_.expires_never();
    watch();
    state_.handlers.handle(std::move(request), exchange_);
  }

  void read_failed(beast::error_code ec) {
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow)
      return transport_error(431, "the request's header is over the limit of " +
                                      std::to_string(state_.settings.max_header_bytes) + " bytes");
    if (ec == bhttp::error::body_limit)
      return transport_error(413, "the body is over the limit of " + std::to_string(state_.settings.max_body_bytes) +
                                      " bytes");
    // The client closed or reset the connection, or did not send a request within the read
    // timeout (the stream closed the socket): nothing to answer.
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted || ec == net::error::bad_descriptor ||
        ec.category() == net::error::get_system_category())
      return gone();
    transport_error(400, "a malformed HTTP request: " + ec.message());
  }

  struct Refusal {
    int status;
    std::string message;
  };
  // What RFC 9112 has a server refuse in a request's head: an HTTP/1.1 request without Host
  // (§3.2: 400), a transfer coding other than chunked (§6.1: 501); and a compressed body (415:
  // bodies are read as sent). Nothing when the head is fine.
  static std::optional<Refusal> framing_refusal(const bhttp::request_header<>& h) {
    if (h.version() >= 11 && h.find(bhttp::field::host) == h.end())
      return Refusal{400, "an HTTP/1.1 request needs a Host header"};
    if (const auto te = h.find(bhttp::field::transfer_encoding); te != h.end() && !beast::iequals(te->value(), "chunked"))
      return Refusal{501, "Transfer-Encoding " + std::string(te->value()) + ": only chunked is supported"};
    if (const auto ce = h.find(bhttp::field::content_encoding); ce != h.end() && !beast::iequals(ce->value(), "identity"))
      return Refusal{415, "Content-Encoding " + std::string(ce->value()) + ": the body must be sent uncompressed"};
    return std::nullopt;
  }

  // The head of a request as far as `h` holds it, at most max_header_fields of its fields. A
  // target in absolute form (http://host/path, RFC 9112 §3.2.2) is taken as its path, and a
  // path's trailing '/' is dropped (/v1/models/ is /v1/models: vLLM's FastAPI redirects there).
  HttpRequest head_of(const bhttp::request_header<>& h) const {
    HttpRequest head;
    head.method = std::string(h.method_string());
    std::string_view target(h.target().data(), h.target().size());
    if (const size_t scheme = target.find("://"); scheme != std::string_view::npos && target.front() != '/') {
      const size_t path = target.find('/', scheme + 3);
      target = path == std::string_view::npos ? std::string_view("/") : target.substr(path);
    }
    target = target.substr(0, target.find('?'));
    if (target.size() > 1 && target.back() == '/') target.remove_suffix(1);
    head.path = std::string(target);
    head.version = static_cast<int>(h.version());
    for (const auto& field : h) {
      if (head.headers.size() >= state_.settings.max_header_fields) break;
      head.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    return head;
  }

  // Answers the transport's own refusal and closes (the rest of the request is not read).
  void transport_error(int status, const std::string& message) {
    if (closed_) return;
    // A refusal while the header or body is read (413 for a declared length over the limit
    // comes before on_header): the head as far as it was parsed.
    if (head_.method.empty() && parser_ && parser_->got_some()) head_ = head_of(parser_->get());
    if (path_.empty()) path_ = head_.path;  // counted under its endpoint, not "other"
    framing_ = Framing::whole;
    log(status);
    HttpResponse response = state_.handlers.error(status, message, head_);
    if (status == 429) response.headers.emplace_back("Retry-After", "1");
    out_ += serialize(response, version_, false);
    after_ = After::close;
    flush();
  }

  void flush() {
    if (writing_ || closed_) return;
    if (out_.empty()) {
      if (after_ != After::nothing) completed();
      return;
    }
    sending_ = std::move(out_);
    out_.clear();
    writing_ = true;
    stream_.expires_after(state_.settings.write_timeout);  // the write's own (a pending watch keeps its none)
    net::async_write(stream_, net::buffer(sending_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec) return self->gone();
      self->flush();
    });
  }

  // Everything of the answer is written.
  void completed() {
    const After after = std::exchange(after_, After::nothing);
    if (exchange_) std::exchange(exchange_, nullptr)->finish(true);
    const auto self = std::move(pending_self_);
    if (after == After::close) return linger();
    if (!watching_) return read_header();
    resume_ = true;  // the watch stops first; its bytes stay in the buffer
    beast::error_code ignored;
    stream_.socket().cancel(ignored);
  }

  // While an answer is pending: a read that notices the client closing (or sending on ahead:
  // pipelined bytes land in the buffer for the next request).
  void watch() {
    if (closed_ || watching_) return;
    const std::size_t room = buffer_.max_size() - buffer_.size();
    if (room == 0) return;  // a full buffer: no more watching until it is parsed
    watching_ = true;
    stream_.async_read_some(buffer_.prepare(std::min(room, kReadChunk)),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_watch(ec, n); });
  }

  void on_watch(beast::error_code ec, std::size_t n) {
    watching_ = false;
    if (lingering_) return start_drain();
    if (!ec) buffer_.commit(n);
    if (resume_) {
      resume_ = false;
      // The client closed after its answer: nothing more can come, so the connection ends here.
      // A read started now would never see it: Boost 1.74's reactor stops trying reads at once
      // after one returned end of stream and waits for an epoll edge that already came (the
      // connection sat in CLOSE-WAIT until the read timeout).
      if (ec == net::error::eof && buffer_.size() == 0) return gone();
      return read_header();  // the next request (pipelined bytes may be buffered already)
    }
    if (!ec) return watch();
    gone();
  }

  // The client went away, or the server stops: the pending answer is abandoned.
  void gone() {
    if (closed_) return;
    closed_ = true;
    const auto self = std::move(pending_self_);
    if (exchange_) {
      if (framing_ == Framing::none) log(499);
      std::exchange(exchange_, nullptr)->finish(false);
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  // Ends the connection after an answer: our side shuts, what the client still sends is read
  // and dropped for at most kLinger, then the socket closes.
  void linger() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (watching_) {
      lingering_ = true;  // the watch ends first (one read at a time), then the drain starts
      stream_.socket().cancel(ignored);
      return;
    }
    start_drain();
  }

  void start_drain() {
    stream_.expires_after(kLinger);
    drain();
  }

  void drain() {
    stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) return self->drain();
      beast::error_code ignored;
      self->stream_.socket().close(ignored);
    });
  }

  State& state_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  HttpRequest head_;
  std::string path_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_only_ = false;  // a HEAD request: answers without their body
  std::shared_ptr<Exchange> exchange_;  // the request being answered
  std::shared_ptr<Session> pending_self_;
  Framing framing_ = Framing::none;
  After after_ = After::nothing;
  std::string out_, sending_, continue_;
  bool writing_ = false, watching_ = false, resume_ = false, lingering_ = false, closed_ = false;
  std::array<char, 4096> scratch_{};
};

template <class F>
void Exchange::post(F f) {
  gate_->post(session_, [self = shared_from_this(), f = std::move(f)](Session& s) mutable { f(s, self.get()); });
}

void Exchange::respond(HttpResponse response) {
  post([r = std::move(response)](Session& s, Exchange* ex) mutable { s.respond(ex, std::move(r)); });
}
void Exchange::open_stream(std::string content_type, Headers headers) {
  post([c = std::move(content_type), h = std::move(headers)](Session& s, Exchange* ex) mutable {
    s.open_stream(ex, std::move(c), std::move(h));
  });
}
void Exchange::write(std::string data) {
  if (data.empty()) return;
  post([d = std::move(data)](Session& s, Exchange* ex) mutable { s.write(ex, std::move(d)); });
}
void Exchange::end_stream() {
  post([](Session& s, Exchange* ex) { s.end_stream(ex); });
}

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return "";
}

void HttpServer::State::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors: pause rather than spin (the connection waits in the backlog).
      if (ec.value() == EMFILE || ec.value() == ENFILE) {
        accept_pause.expires_after(kAcceptPause);
        accept_pause.async_wait([this](beast::error_code) { accept(); });
        return;
      }
      return accept();
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const bool short_of_descriptors =
        settings.descriptor_reserve > 0 && socket.native_handle() >= descriptor_limit - settings.descriptor_reserve;
    const bool over = open.load() >= settings.max_open_connections;
    auto session = std::make_shared<Session>(*this, std::move(socket));
    {
      std::lock_guard lock(sessions_mutex);
      sessions.emplace(session.get(), session);
    }
    net::post(session->executor(), [session, over, short_of_descriptors, this] {
      if (over || short_of_descriptors)
        session->refuse(429, over ? "too many connections at once (" + std::to_string(settings.max_open_connections) +
                                        "); retry later"
                                  : "the server is short of descriptors; retry later");
      else session->run();
    });
    accept();
  });
}

HttpServer::HttpServer(ServerSettings settings, ServerHandlers handlers) : state_(std::make_shared<State>()) {
  state_->settings = std::move(settings);
  state_->handlers = std::move(handlers);
}

HttpServer::~HttpServer() { stop(); }

uint16_t HttpServer::start() {
  State& s = *state_;
  rlimit limit{};
  s.descriptor_limit = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                           ? static_cast<long>(limit.rlim_cur)
                           : (1L << 30);
  const std::string where = s.settings.host + ":" + std::to_string(s.settings.port);
  try {
    tcp::resolver resolver(s.ioc);
    const auto endpoints = resolver.resolve(s.settings.host, std::to_string(s.settings.port),
                                            tcp::resolver::passive | tcp::resolver::numeric_service);
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    s.acceptor.open(endpoint.protocol());
    s.acceptor.set_option(net::socket_base::reuse_address(true));
    s.acceptor.bind(endpoint);
    s.acceptor.listen(s.settings.backlog);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen for HTTP on " + where + ": " + e.what());
  }
  const uint16_t port = s.acceptor.local_endpoint().port();
  s.accept();
  for (int i = 0; i < std::max(1, s.settings.threads); ++i) s.threads.emplace_back([&s] { s.ioc.run(); });
  s.started = true;
  return port;
}

void HttpServer::stop() {
  State& s = *state_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  s.gate->close();  // replies held elsewhere post nothing from here on
  net::post(s.acceptor.get_executor(), [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    s.accept_pause.cancel();
    std::vector<std::shared_ptr<Session>> open;
    {
      std::lock_guard lock(s.sessions_mutex);  // (a session's destructor takes it too)
      for (auto& [_, weak] : s.sessions)
        if (auto session = weak.lock()) open.push_back(std::move(session));
    }
    for (auto& session : open) net::post(session->executor(), [session] { session->close(); });
  });
  // The threads leave run() once every connection is closed (lingering ones within kLinger).
  for (int i = 0; i < 100 && !s.ioc.stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  std::vector<std::shared_ptr<Session>> left;  // sessions that did not close in time
  {
    std::lock_guard lock(s.sessions_mutex);
    for (auto& [_, weak] : s.sessions)
      if (auto session = weak.lock()) left.push_back(std::move(session));
  }
  for (auto& session : left) session->release();
}

}  // namespace pio::http
