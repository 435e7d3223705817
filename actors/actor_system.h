// The actor system every pio process runs (a node, a remote worker, a client): pio's message
// types registered, CAF's network module loaded, heartbeats on, and a shutdown that leaves
// nothing of CAF's network module behind.
#pragma once

#include <chrono>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/tls.h"

namespace pio {

// Every process that talks over BASP (a node and its clients) sends a heartbeat this often and
// drops a connection that brought no byte for kConnectionTimeout: a killed, frozen (SIGSTOP)
// or cut-off peer is noticed within kConnectionTimeout + kHeartbeatInterval, and a connection
// whose handshake has not answered by the next heartbeat tick is dropped.
constexpr std::chrono::milliseconds kHeartbeatInterval{500};
constexpr std::chrono::milliseconds kConnectionTimeout{2000};

// An actor system with pio's message types registered, the network module loaded and heartbeats
// every `heartbeat`: what every process that talks to a node needs. With `tls` enabled (files
// checked by the caller), CAF's OpenSSL module too, set to present tls.cert/tls.key and accept
// only peers that tls.ca signed. Its destructor stops the BASP broker (CAF's network actor)
// before CAF stops the system: CAF 0.17.6 never closes a broker's mailbox, so a heartbeat tick
// delivered after the network module stopped stays in it, and the tick (sent by the broker to
// itself) keeps the broker alive for good.
class ActorSystem {
 public:
  explicit ActorSystem(const TlsFiles& tls = {}, std::chrono::milliseconds heartbeat = kHeartbeatInterval);
  ~ActorSystem();
  ActorSystem(const ActorSystem&) = delete;
  ActorSystem& operator=(const ActorSystem&) = delete;

  caf::actor_system& operator*() noexcept { return *system_; }
  caf::actor_system* operator->() noexcept { return system_.get(); }

 private:
  std::unique_ptr<caf::actor_system_config> config_;
  std::unique_ptr<caf::actor_system> system_;
};

}  // namespace pio
