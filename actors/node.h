// A node in this process: an actor system with every message type registered and CAF's
// network module loaded, the supervisor (the front end, and through it every actor of the node)
// and, with a loaded model, one worker in this process that joined it (role all). `pio-node`
// publishes it on a port (plain, or mutual TLS when given certificates), where clients submit
// and workers of other processes join; tests and embedders use it directly, with pio::Client.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "actors/actor_system.h"
#include "actors/interfaces.h"
#include "actors/supervisor.h"
#include "actors/tls.h"

namespace pio {

class Node {
 public:
  // settings.engine.tokenizer must be set, and settings.engine.weights (with its backend) or
  // settings.config: with weights, a worker in this process joins before the constructor
  // returns; with only a config, the node is a front end that workers of other processes join. With `tls` enabled, publish()
  // opens a mutual-TLS port instead of a plain one. Throws std::invalid_argument for settings
  // that cannot work (check_tls_files' errors included), std::runtime_error when the local
  // worker does not join within 10 s.
  explicit Node(NodeSettings settings, TlsFiles tls = {});
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  caf::actor_system& system() { return **system_; }
  supervisor_actor supervisor() const { return supervisor_; }
  // The front door clients talk to (the supervisor, seen through its public interface).
  node_api api() const { return caf::actor_cast<node_api>(supervisor_); }
  // The profiler whose registry /metrics serves (refreshed by each stats request).
  std::shared_ptr<Profiler> profiler() const { return profiler_; }

  // Opens the front door on host:port (0: any free port); returns the port. With TLS files,
  // only through CAF's OpenSSL module: a peer gets no byte of BASP before its certificate is
  // verified. Throws std::runtime_error when the address cannot be bound.
  uint16_t publish(const std::string& host, uint16_t port);
  // True when publish() opens a TLS port.
  bool tls() const { return tls_; }

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
  bool tls_;
  std::unique_ptr<ActorSystem> system_;
  supervisor_actor supervisor_;
  caf::actor local_worker_;  // null for a front end only
  std::shared_ptr<Profiler> profiler_;
};

}  // namespace pio
