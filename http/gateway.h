// The HTTP gateway: an OpenAI-compatible front door (cpp-httplib) on a node in this process.
// POST /v1/chat/completions and /v1/completions go to the node through pio::Client (one sink
// actor per request), streamed as server-sent events or answered whole; GET /v1/models,
// /health (200, or 503 naming the stages that are down), /metrics (the profiler's prometheus registry, text format) and / (the chat page).
// Errors are OpenAI error JSON with their status (api_error.h); a streaming client that goes
// away cancels its request.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "http/openai_request.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}
namespace prometheus {
template <class T> class Family;
class Counter;
}

namespace pio {
class Node;
class Client;
}

namespace pio::http {

struct HttpSettings {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;           // 0: any free port
  std::string api_key;            // non-empty: /v1/ needs `Authorization: Bearer <key>`
  std::string model_name = "pio"; // what /v1/models lists and responses name
  RequestLimits limits;
  uint64_t max_body_bytes = 64 << 20;
  int max_connections = 64;       // requests served at once; more get 429
  int64_t deadline_ms = 600000;   // per request (the node ends it with an error after this)
};

class HttpGateway {
 public:
  // `node` must outlive the gateway.
  HttpGateway(Node& node, HttpSettings settings);
  ~HttpGateway();
  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;

  // Binds and serves on a thread of its own; returns the port. Throws std::runtime_error when
  // the address cannot be bound.
  uint16_t start();
  // Stops serving: open streams end, waiting requests are cancelled.
  void stop();

 private:
  struct Call;
  void routes();
  void generate(const httplib::Request& req, bool chat, httplib::Response& res);
  std::shared_ptr<Call> submit(ChatRequest request);

  Node& node_;
  HttpSettings settings_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> next_id_{1};
  prometheus::Family<prometheus::Counter>* http_requests_ = nullptr;
};

}  // namespace pio::http
