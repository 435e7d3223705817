#include "http/gateway.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <prometheus/counter.h>
#include <prometheus/text_serializer.h>

#include "actors/client.h"
#include "actors/node.h"
#include "http/api_error.h"
#include "http/chat_page.h"
#include "http/connection_probe.h"
#include "http/openai_response.h"

namespace pio::http {

// One request's events, filled by its sink actor, drained by the HTTP thread.
struct HttpGateway::Call {
  uint64_t id = 0;
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<StreamEvent> events;
  bool ended = false;  // the final event arrived

  // Waits up to `timeout` for events; takes what is there.
  std::deque<StreamEvent> take(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    ready.wait_for(lock, timeout, [&] { return !events.empty(); });
    return std::exchange(events, {});
  }
  bool finished() {
    std::lock_guard lock(mutex);
    return ended;
  }
};

namespace {

// How often a waiting handler looks for events and for a client that went away.
constexpr auto kPoll = std::chrono::milliseconds(100);
// A stream with nothing to send writes a comment this often (it also finds a closed connection).
constexpr auto kKeepAlive = std::chrono::milliseconds(500);

// Counts a request against --max-connections for as long as it is served (a stream: until it ends).
class Slot {
 public:
  Slot(std::atomic<int>& in_flight, int max) : in_flight_(in_flight) {
    if (in_flight_.fetch_add(1) >= max) {
      in_flight_.fetch_sub(1);
      throw ApiError(429, "too many requests at once (--max-connections " + std::to_string(max) + "); retry later");
    }
  }
  ~Slot() { in_flight_.fetch_sub(1); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

 private:
  std::atomic<int>& in_flight_;
};

void send_error(httplib::Response& res, int status, const std::string& message, const std::string& param = "") {
  res.status = status;
  if (status == 429 || status == 503) res.set_header("Retry-After", status == 429 ? "1" : "5");
  res.set_content(error_body(status, message, param), "application/json");
}

// Runs a handler, answering its ApiError (or any other exception, as 500) in the error shape.
template <class F>
void guarded(httplib::Response& res, F&& handler) {
  try {
    handler();
  } catch (const ApiError& e) {
    send_error(res, e.status(), e.what(), e.param());
  } catch (const std::exception& e) {
    send_error(res, 500, std::string("internal error: ") + e.what());
  }
}

bool bearer_matches(const httplib::Request& req, const std::string& key) {
  const std::string header = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (header.size() != prefix.size() + key.size() || header.compare(0, prefix.size(), prefix) != 0) return false;
  return CRYPTO_memcmp(header.data() + prefix.size(), key.data(), key.size()) == 0;
}

// The node's error for a final event that is not an answer.
ApiError error_of(const StreamEvent& e) {
  if (e.finish_reason == "cancelled") return ApiError(500, "the request was cancelled: " + e.error.message);
  return ApiError(status_of(e.error.code), e.error.message);
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

HttpGateway::HttpGateway(Node& node, HttpSettings settings)
    : node_(node),
      settings_(std::move(settings)),
      client_(std::make_unique<Client>(node)),
      server_(std::make_unique<httplib::Server>()) {
  http_requests_ = &prometheus::BuildCounter()
                        .Name("pio_http_requests_total")
                        .Help("HTTP requests by endpoint and status")
                        .Register(*node_.profiler()->registry());
  routes();
}

HttpGateway::~HttpGateway() { stop(); }

std::shared_ptr<HttpGateway::Call> HttpGateway::submit(ChatRequest request) {
  auto call = std::make_shared<Call>();
  request.deadline_ms = settings_.deadline_ms;
  call->id = client_->submit(std::move(request), [call](const StreamEvent& e) {
    std::lock_guard lock(call->mutex);
    call->events.push_back(e);
    call->ended = call->ended || e.final;
    call->ready.notify_all();
  });
  return call;
}

void HttpGateway::generate(const httplib::Request& req, bool chat, httplib::Response& res) {
  auto slot = std::make_shared<Slot>(in_flight_, settings_.max_connections);
  ParsedRequest parsed =
      chat ? parse_chat_request(req.body, settings_.limits) : parse_completion_request(req.body, settings_.limits);
  const ResponseInfo info{(chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id_++), unix_now(), settings_.model_name, chat,
                          parsed.tools};
  const auto call = submit(std::move(parsed.request));
  // A client that leaves while nothing is written yet (queued, prefill, a whole answer) cancels
  // its request within a poll; 499 (nginx's "client closed request") is only logged.
  const ConnectionProbe client(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
  const auto client_left = [&] {
    if (!client.closed()) return false;
    client_->cancel(call->id);
    send_error(res, 499, "the client closed the connection");
    return true;
  };
  // Until the first event nothing is sent, so a request the node refuses gets its own status.
  std::deque<StreamEvent> first;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(settings_.deadline_ms + 5000);
  while (first.empty()) {
    if (stopping_ || std::chrono::steady_clock::now() > give_up) {
      client_->cancel(call->id);
      throw ApiError(503, "the node is shutting down or did not answer");
    }
    if (client_left()) return;
    first = call->take(kPoll);
  }
  if (first.front().final && first.front().finish_reason != "stop" && first.front().finish_reason != "length")
    throw error_of(first.front());
  if (!parsed.stream) {
    std::string text;
    for (;;) {
      for (const StreamEvent& e : first) {
        text += e.text;
        if (!e.final) continue;
        if (e.finish_reason != "stop" && e.finish_reason != "length") throw error_of(e);
        res.set_content(completion_body(info, text, e), "application/json");
        return;
      }
      if (stopping_) {
        client_->cancel(call->id);
        throw ApiError(503, "the node is shutting down");
      }
      if (client_left()) return;
      first = call->take(kPoll);
    }
  }
  res.set_header("Cache-Control", "no-cache");
  auto format = std::make_shared<StreamFormatter>(info, parsed.include_usage);
  auto pending = std::make_shared<std::deque<StreamEvent>>(std::move(first));
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, call, format, pending, started = false](size_t, httplib::DataSink& sink) mutable {
        std::string out = started ? "" : format->start();
        started = true;
        if (pending->empty()) *pending = call->take(kKeepAlive);
        // A comment line while nothing comes: it finds a client that went away.
        if (pending->empty() && out.empty()) out = ": waiting\n\n";
        bool done = false;
        for (const StreamEvent& e : *pending) {
          if (!e.final) {
            out += format->delta(e.text);
          } else {
            if (e.finish_reason == "stop" || e.finish_reason == "length") {
              out += format->finish(e);
            } else {
              const ApiError error = error_of(e);
              out += sse_error(error.status(), error.what());
            }
            done = true;
          }
        }
        pending->clear();
        if (!out.empty() && !sink.write(out.data(), out.size())) return false;
        if (done) sink.done();
        return !stopping_ || done;
      },
      [this, call, slot](bool) {
        if (!call->finished()) client_->cancel(call->id);  // the client went away, or the gateway stops
      });
}

void HttpGateway::routes() {
  httplib::Server& s = *server_;
  s.new_task_queue = [n = settings_.max_connections] { return new httplib::ThreadPool(static_cast<size_t>(n) + 8); };
  s.set_payload_max_length(settings_.max_body_bytes);
  s.set_keep_alive_timeout(5);
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (settings_.api_key.empty() || req.path.rfind("/v1/", 0) != 0 || bearer_matches(req, settings_.api_key))
      return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, 401, "a missing or wrong API key: send Authorization: Bearer <key>");
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404) send_error(res, 404, "no such endpoint: " + req.method + " " + req.path);
    else if (res.status == 413)
      send_error(res, 413, "the body is over the limit of " + std::to_string(settings_.max_body_bytes) + " bytes");
    else send_error(res, res.status, "the request cannot be served");
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    static const std::vector<std::string> known{"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics", "/"};
    const bool is_known = std::find(known.begin(), known.end(), req.path) != known.end();
    http_requests_->Add({{"endpoint", is_known ? req.path : "other"}, {"code", std::to_string(res.status)}}).Increment();
  });
  s.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] { generate(req, true, res); });
  });
  s.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] { generate(req, false, res); });
  });
  s.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const nlohmann::json models = {
        {"object", "list"},
        {"data", {{{"id", settings_.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "pio"}}}}};
    res.set_content(models.dump(), "application/json");
  });
  s.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    // 503 naming the stages that are down (a plug-in stage held down, or a silent supervisor).
    const NodeHealth health = node_.health(std::chrono::seconds(5));
    nlohmann::json body = {{"status", health.healthy() ? "ok" : "unhealthy"}};
    if (!health.healthy()) {
      body["down"] = health.down;
      res.status = 503;
    }
    res.set_content(body.dump(), "application/json");
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] {
      client_->stats(std::chrono::seconds(5));  // refreshes the load gauges
      res.set_content(prometheus::TextSerializer().Serialize(node_.profiler()->registry()->Collect()),
                      "text/plain; version=0.0.4; charset=utf-8");
    });
  });
  s.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(chat_page_html(), "text/html; charset=utf-8"); });
}

uint16_t HttpGateway::start() {
  const int port = settings_.port == 0 ? server_->bind_to_any_port(settings_.host)
                                       : (server_->bind_to_port(settings_.host, settings_.port) ? settings_.port : -1);
  if (port <= 0) throw std::runtime_error("cannot listen for HTTP on " + settings_.host + ":" + std::to_string(settings_.port));
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return static_cast<uint16_t>(port);
}

void HttpGateway::stop() {
  // Requests the node has ended are still writing their final events: let them (bounded).
  for (int i = 0; i < 150 && in_flight_ > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stopping_ = true;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace pio::http
