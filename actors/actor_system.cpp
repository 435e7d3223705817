#include "actors/actor_system.h"

#include <future>
#include <iostream>

#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/multiplexer.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/actor_types.h"
#include "actors/engine_actor.h"
#include "actors/tls_error_queue.h"

namespace pio {
namespace {

std::unique_ptr<caf::actor_system_config> make_actor_system_config(const TlsFiles& tls, std::chrono::milliseconds heartbeat) {
  auto cfg = std::make_unique<caf::actor_system_config>();
  cfg->load<caf::io::middleman>();
  register_message_types(*cfg);
  add_device_error_category(*cfg);
  cfg->set("middleman.heartbeat-interval", caf::timespan{heartbeat});
  cfg->set("middleman.connection-timeout", caf::timespan{kConnectionTimeout});
  if (tls.enabled()) {
    // Without this guard a stray peer's failed handshake closes healthy TLS connections.
    if (!tls_error_queue_guarded())
      std::cerr << "pio: warning: this executable does not export its OpenSSL guard (ENABLE_EXPORTS): a failed TLS "
                   "handshake may close other TLS connections (actors/tls_error_queue.h)\n";
    // Any of these set makes the module require and verify a certificate on both ends.
    cfg->load<caf::openssl::manager>();
    cfg->openssl_certificate = tls.cert;
    cfg->openssl_key = tls.key;
    cfg->openssl_cafile = tls.ca;
  }
  // Quiet: the node reports through its own output, not CAF's console logger.
  cfg->set("logger.console", caf::atom("none"));
  // Work sharing: idle scheduler threads sleep on a condition variable. Work stealing's polling
  // took about a tenth of a core beside the compute threads, for a few messages per step.
  cfg->set("scheduler.policy", caf::atom("sharing"));
  return cfg;
}

// Ends the BASP broker (the plain and the TLS module share it) and closes its mailbox, so that
// the heartbeat tick still due from CAF's clock is dropped on arrival. The broker runs on the
// network module's thread, which must do the closing: scheduled_actor::cleanup closes and
// empties the mailbox (the part io::abstract_broker::cleanup leaves out in CAF 0.17.6) and
// does nothing else for an actor that already ended.
void stop_basp_broker(caf::actor_system& system) {
  auto& middleman = system.middleman();
  const caf::actor broker = middleman.named_broker<caf::io::basp_broker>(caf::atom("BASP"));
  {
    caf::scoped_actor self{system};
    self->monitor(broker);
    self->send_exit(broker, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {}, caf::after(std::chrono::seconds(5)) >> [] {});
  }
  auto closed = std::make_shared<std::promise<void>>();
  middleman.backend().dispatch([broker, closed] {
    auto* actor = static_cast<caf::io::abstract_broker*>(caf::actor_cast<caf::abstract_actor*>(broker));
    if (actor->getf(caf::abstract_actor::is_terminated_flag))
      actor->caf::scheduled_actor::cleanup(caf::exit_reason::user_shutdown, nullptr);
    closed->set_value();
  });
  closed->get_future().wait_for(std::chrono::seconds(5));
}

}  // namespace

ActorSystem::ActorSystem(const TlsFiles& tls, std::chrono::milliseconds heartbeat)
    : config_(make_actor_system_config(tls, heartbeat)), system_(std::make_unique<caf::actor_system>(*config_)) {}

ActorSystem::~ActorSystem() {
  // CAF's own order: every actor ends first (what they still send to remote actors goes out),
  // then the network.
  system_->await_all_actors_done();
  stop_basp_broker(*system_);
  system_.reset();
}

}  // namespace pio
