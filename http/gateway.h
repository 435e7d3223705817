// The HTTP gateway: an OpenAI-compatible front door on a node in this process, over the
// bounded HTTP/1.1 transport of http/server.h (Boost.Beast).
// POST /v1/chat/completions and /v1/completions go to the node through pio::Client (one sink
// actor per request), streamed as server-sent events or answered whole; GET /v1/models,
// /health (200, or 503 naming the stages that are down), /metrics (the profiler's prometheus registry, text format) and / (the chat page).
// Errors are OpenAI error JSON with their status (api_error.h); what is refused from a request's
// head alone (key, route, method, Content-Type, CORS preflights) is routes.h's. A client that
// goes away before its answer is written (waiting, or mid-stream) cancels its request.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/cors.h"
#include "http/openai_request.h"
#include "http/server.h"

namespace boost::asio {
class thread_pool;
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
  std::string model_name = "pio"; // what /v1/models lists first and responses name
  // --served-model-name: more names a request's "model" may give (each listed by /v1/models);
  // any other name is a 404.
  std::vector<std::string> model_aliases;
  // --cors-origin: origins whose pages may call the API from a browser ("*": any); none: off.
  std::vector<std::string> cors_origins;
  RequestLimits limits;
  uint64_t max_body_bytes = 64 << 20;
  int max_connections = 64;       // requests served at once; more get 429
  int64_t deadline_ms = 600000;   // per request (the node ends it with an error after this)
  // The transport's bounds: the time to read a request (header and body), the listen backlog,
  // and the descriptors kept free (a connection accepted within this many of RLIMIT_NOFILE
  // gets 429; 0: off). Connections open at once are capped at 4 x max_connections (idle
  // keep-alive ones included); more get 429.
  std::chrono::milliseconds read_timeout{30000};
  int backlog = 1024;
  long descriptor_reserve = 0;
};

class HttpGateway {
 public:
  // `node` must outlive the gateway.
  HttpGateway(Node& node, HttpSettings settings);
  ~HttpGateway();
  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;

  // Binds and serves on a small fixed pool of threads; returns the port. Throws
  // std::runtime_error when the address cannot be bound.
  uint16_t start();
  // Stops serving: open streams end, waiting requests are cancelled.
  void stop();

 private:
  struct Call;
  std::optional<HttpResponse> check(const HttpRequest& head) const;
  void handle(HttpRequest request, std::shared_ptr<Reply> reply);
  void generate(const HttpRequest& request, bool chat, const std::shared_ptr<Reply>& reply);

  Node& node_;
  HttpSettings settings_;
  std::unique_ptr<Client> client_;
  // Parses requests, submits them, and asks the node for health and stats (calls that wait).
  std::unique_ptr<boost::asio::thread_pool> workers_;
  std::unique_ptr<HttpServer> server_;
  CorsPolicy cors_;
  std::vector<std::string> model_names_;  // model_name, then the aliases
  int64_t created_;                        // the gateway's start, Unix seconds (/v1/models)
  std::string id_prefix_;                  // random per process: response ids differ across restarts
  bool stopped_ = false;
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> next_id_{1};
  prometheus::Family<prometheus::Counter>* http_requests_ = nullptr;
};

}  // namespace pio::http
