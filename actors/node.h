// A node in this process: an actor system with every message type registered and CAF's
// network module loaded, the supervisor (and through it every actor of the node) spawned over
// an already loaded model. `pio-node` publishes it on a port; tests and embedders use it
// directly, with pio::Client.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/interfaces.h"
#include "actors/supervisor.h"

namespace pio {

class Node {
 public:
  // settings.engine.model and .tokenizer must be set. Throws std::invalid_argument for
  // settings that cannot work.
  explicit Node(NodeSettings settings);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  caf::actor_system& system() { return *system_; }
  supervisor_actor supervisor() const { return supervisor_; }
  // The front door clients talk to (the supervisor, seen through its public interface).
  node_api api() const { return caf::actor_cast<node_api>(supervisor_); }
  // The profiler whose registry /metrics serves (refreshed by each stats request).
  std::shared_ptr<Profiler> profiler() const { return profiler_; }

  // Opens the front door on host:port (0: any free port); returns the port. Throws
  // std::runtime_error when the address cannot be bound.
  uint16_t publish(const std::string& host, uint16_t port);

  // Stops admitting (new requests get `overloaded`) and waits until every request in flight has
  // ended or the timeout passed; true when all ended.
  bool drain(std::chrono::milliseconds timeout);
  // Ends every request still in flight now, each with an error event carrying `why` (after a
  // drain that timed out). Returns once the events are sent, or after 5 s.
  void end_all(const std::string& why);

  // The supervisor's health report; a supervisor that does not answer within the timeout
  // reads as unhealthy (down: "supervisor").
  NodeHealth health(std::chrono::milliseconds timeout);

 private:
  std::unique_ptr<caf::actor_system_config> config_;
  std::unique_ptr<caf::actor_system> system_;
  supervisor_actor supervisor_;
  std::shared_ptr<Profiler> profiler_;
};

// An actor system configuration with pio's message types registered and the network module
// loaded: what every process that talks to a node needs.
std::unique_ptr<caf::actor_system_config> make_actor_system_config();

}  // namespace pio
