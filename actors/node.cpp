#include "actors/node.h"

#include <stdexcept>
#include <thread>

#include <caf/io/middleman.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/actor_types.h"
#include "actors/engine_actor.h"
#include "actors/worker.h"

namespace pio {

Node::Node(NodeSettings settings, TlsFiles tls) : tls_(tls.enabled()) {
  if ((!settings.engine.weights && !settings.config) || !settings.engine.tokenizer)
    throw std::invalid_argument("node: no model (or config) or tokenizer");
  if (settings.engine.weights && !settings.engine.backend) throw std::invalid_argument("node: weights without a backend");
  if (tls_) check_tls_files(tls);
  if (!settings.profiler) settings.profiler = std::make_shared<Profiler>(describe_hardware(), "");
  profiler_ = settings.profiler;
  if (settings.engine.cache) settings.profiler->watch_cache(settings.engine.cache);
  system_ = std::make_unique<ActorSystem>(tls);
  if (!settings.engine.options.preprocessor) settings.engine.options.preprocessor = settings.preprocessor;
  WorkerSettings worker{settings.engine, settings.fingerprint, "local"};
  const bool has_worker = settings.engine.weights != nullptr;
  supervisor_ = spawn_supervisor(system(), std::move(settings));
  if (!has_worker) return;
  local_worker_ = caf::actor_cast<caf::actor>(spawn_local_worker(system(), std::move(worker), caf::actor_cast<frontend_api>(supervisor_)));
  // Serving starts once the worker joined (a request before that would find no worker).
  caf::scoped_actor self{system()};
  for (int attempt = 0;; ++attempt) {
    bool joined = false;
    self->request(supervisor_, std::chrono::seconds(10), engine_atom::value)
        .receive([&](const engine_actor&) { joined = true; }, [](caf::error&) {});
    if (joined) break;
    if (attempt == 1000) throw std::runtime_error("node: the local worker did not join");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Node::~Node() {
  if (local_worker_) {
    // The worker first, and wait for it, then its engine group: a detached engine thread must
    // not outlive the node (it would use the caller's model and backend after they are gone),
    // and a worker still alive when its engine stops would spawn a new one.
    caf::scoped_actor self{system()};
    engine_actor engine;
    self->request(supervisor_, std::chrono::seconds(2), engine_atom::value)
        .receive([&](const engine_actor& e) { engine = e; }, [](caf::error&) {});
    if (engine) self->monitor(engine);
    self->monitor(local_worker_);
    caf::anon_send_exit(local_worker_, caf::exit_reason::user_shutdown);  // it stops its engine group too
    for (int down = engine ? 2 : 1; down > 0; --down)
      self->receive([](const caf::down_msg&) {}, caf::after(std::chrono::seconds(10)) >> [] {});
  }
  caf::anon_send_exit(supervisor_, caf::exit_reason::user_shutdown);
  supervisor_ = nullptr;
  system_.reset();
}

uint16_t Node::publish(const std::string& host, uint16_t port) {
  // Clients and workers alike (frontend_api extends node_api). Never both: a process that also
  // calls io::publish exposes a plain port beside the TLS one.
  const auto front = caf::actor_cast<frontend_api>(supervisor_);
  auto bound = tls_ ? caf::openssl::publish(front, port, host.c_str(), true)
                    : system().middleman().publish(front, port, host.c_str(), true);
  if (!bound) throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + system().render(bound.error()));
  return *bound;
}

bool Node::drain(std::chrono::milliseconds timeout) {
  caf::scoped_actor self{system()};
  bool drained = false;
  self->request(supervisor_, timeout, drain_atom::value).receive([&](bool done) { drained = done; }, [](caf::error&) {});
  return drained;
}

void Node::end_all(const std::string& why) {
  caf::scoped_actor self{system()};
  self->request(supervisor_, std::chrono::seconds(5), abort_atom::value, why).receive([](bool) {}, [](caf::error&) {});
}

NodeHealth Node::health(std::chrono::milliseconds timeout) {
  caf::scoped_actor self{system()};
  NodeHealth health{{"supervisor"}};
  self->request(supervisor_, timeout, health_atom::value)
      .receive([&](NodeHealth& h) { health = std::move(h); }, [](caf::error&) {});
  return health;
}

}  // namespace pio
