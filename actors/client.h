// pio::Client: the C++ API for talking to a node, in this process or over the network (CAF's
// middleman). Submit a request and get its stream events through a callback, or a future of
// the whole answer; cancel it; read the node's stats.
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
#include <caf/actor_system_config.hpp>

#include "actors/interfaces.h"

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

class Client {
 public:
  // Connects to a node's published port. Throws std::runtime_error when it cannot.
  static std::unique_ptr<Client> connect(const std::string& host, uint16_t port);
  // Talks to a node in this process.
  explicit Client(Node& node);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Submits a request. on_event is called for each of its events, in order, the final one last,
  // on an actor thread (synchronise what it touches). Returns the request id. Throws
  // std::runtime_error when the node cannot be reached.
  uint64_t submit(ChatRequest request, std::function<void(const StreamEvent&)> on_event);
  // The whole answer, once its final event arrived.
  std::future<ChatResult> complete(ChatRequest request);
  // Ends a request (its final event says cancelled).
  void cancel(uint64_t id);
  // The node's profiler report. Throws std::runtime_error when the node does not answer.
  StatsReport stats(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  Client(std::unique_ptr<caf::actor_system_config> config, std::unique_ptr<caf::actor_system> system, node_api node);

  std::unique_ptr<caf::actor_system_config> config_;  // owned for a remote client
  std::unique_ptr<caf::actor_system> owned_system_;
  caf::actor_system& system_;
  node_api node_;
};

}  // namespace pio
