// pio::Client: the C++ API for talking to a node, in this process or over the network (CAF's
// middleman, plain or mutual TLS). Submit a request and get its stream events through a
// callback, or a future of the whole answer; cancel it; read the node's stats. The client
// watches the node: when it is lost (killed, exited, frozen or cut off: noticed within
// kConnectionTimeout + kHeartbeatInterval, actors/actor_system.h), every pending request ends with a
// final error event, and a request the node never takes fails after request_timeout.
//
//   auto client = pio::Client::connect("127.0.0.1", 7070);
//   pio::ChatRequest req;
//   req.messages = {{"user", {pio::ContentPart{"Describe this image.", pio::read_image_file("cat.jpg"), true}}}};
//   pio::ChatResult answer = client->complete(req).get();
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include <caf/actor_system.hpp>

#include "actors/actor_system.h"
#include "actors/interfaces.h"
#include "actors/tls.h"

namespace pio {

class Node;

// A whole answer: the concatenated text deltas, the final event's fields.
struct ChatResult {
  std::string text;
  std::vector<int32_t> token_ids;
  std::string finish_reason;  // stop, length, cancelled, error
  Usage usage;
  StageTimings timings;
  ErrorInfo error;            // code none unless finish_reason is error (or cancelled)
  std::optional<uint64_t> seed = std::nullopt;  // it sampled with (as sampling.seed: the same answer)
};

// How a client reaches a remote node and how long it waits.
struct ClientOptions {
  // Enabled: mutual TLS, for a node started with --tls-cert/--tls-key/--tls-ca (its CA must have
  // signed tls.cert, and tls.ca the node's certificate).
  TlsFiles tls;
  // TCP connect plus the TLS and BASP handshakes; a peer that accepts and never answers fails
  // after this.
  std::chrono::milliseconds connect_timeout{5000};
  // The longest the node may take to accept a submitted request.
  std::chrono::milliseconds request_timeout{30000};
};

class Client {
 public:
  // Connects to a node's published port. Throws std::invalid_argument for unusable TLS files
  // and std::runtime_error when the node cannot be reached within options.connect_timeout
  // (refused, no answer, a TLS or protocol mismatch: the message says which it can tell).
  static std::unique_ptr<Client> connect(const std::string& host, uint16_t port, const ClientOptions& options = {});
  // Talks to a node in this process.
  explicit Client(Node& node);
  // Talks to `node`, an actor of `system` (a node's front door, or a stand-in in tests);
  // `name` names it in errors.
  Client(caf::actor_system& system, node_api node, std::string name,
         std::chrono::milliseconds request_timeout = ClientOptions{}.request_timeout);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Submits a request. on_event is called for each of its events, in order, the final one last,
  // on an actor thread (synchronise what it touches); when the node is lost, the final event
  // has finish_reason "error" and says so. Returns the request id. Throws std::runtime_error
  // (and calls on_event never) when the node refuses the request, does not take it within the
  // request timeout, or is lost before it does; std::invalid_argument, before sending, for a
  // request over what a node's plain port takes in one frame (256 MiB less a margin).
  uint64_t submit(ChatRequest request, std::function<void(const StreamEvent&)> on_event);
  // The whole answer, once its final event arrived (an error result when the node was lost).
  // Throws as submit.
  std::future<ChatResult> complete(ChatRequest request);
  // Ends a request (its final event says cancelled).
  void cancel(uint64_t id);
  // The node's profiler report. Throws std::runtime_error when the node does not answer within
  // the timeout or is lost first.
  StatsReport stats(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  Client(std::unique_ptr<ActorSystem> system, node_api node, std::string name, std::chrono::milliseconds request_timeout);

  std::unique_ptr<ActorSystem> owned_system_;  // for a remote client
  caf::actor_system& system_;
  node_api node_;
  std::string name_;  // "the node at HOST:PORT"
  std::chrono::milliseconds request_timeout_;
  uint64_t max_request_bytes_ = 0;  // serialised; 0: no limit (in this process, or over TLS)
};

}  // namespace pio
