#include "actors/client.h"

#include <stdexcept>

#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/node.h"

namespace pio {

std::unique_ptr<Client> Client::connect(const std::string& host, uint16_t port) {
  auto config = make_actor_system_config();
  auto system = std::make_unique<caf::actor_system>(*config);
  auto node = system->middleman().remote_actor<node_api>(host, port);
  if (!node) throw std::runtime_error("cannot reach a node at " + host + ":" + std::to_string(port) + ": " + system->render(node.error()));
  return std::unique_ptr<Client>(new Client(std::move(config), std::move(system), *node));
}

Client::Client(Node& node) : system_(node.system()), node_(node.api()) {}

Client::Client(std::unique_ptr<caf::actor_system_config> config, std::unique_ptr<caf::actor_system> system, node_api node)
    : config_(std::move(config)), owned_system_(std::move(system)), system_(*owned_system_), node_(std::move(node)) {}

Client::~Client() {
  node_ = nullptr;
  owned_system_.reset();
}

uint64_t Client::submit(ChatRequest request, std::function<void(const StreamEvent&)> on_event) {
  // One sink per request; it ends after the final event, which tells the node it is gone.
  // on_event is a spawn argument: CAF 0.17 dereferences a null argument tuple otherwise.
  const stream_sink sink = system_.spawn(
      [](stream_sink::pointer self, std::function<void(const StreamEvent&)> callback) -> stream_sink::behavior_type {
        return {[self, callback](event_atom, const StreamEvent& e) {
          callback(e);
          if (e.final) self->quit();
        }};
      },
      std::move(on_event));
  caf::scoped_actor self{system_};
  uint64_t id = 0;
  std::string failure;
  self->request(node_, std::chrono::seconds(30), submit_atom::value, std::move(request), sink)
      .receive([&](uint64_t assigned) { id = assigned; }, [&](caf::error& e) { failure = system_.render(e); });
  if (!failure.empty()) {
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
    throw std::runtime_error("the node did not take the request: " + failure);
  }
  return id;
}

std::future<ChatResult> Client::complete(ChatRequest request) {
  auto result = std::make_shared<ChatResult>();
  auto promise = std::make_shared<std::promise<ChatResult>>();
  auto future = promise->get_future();
  submit(std::move(request), [result, promise](const StreamEvent& e) {
    result->text += e.text;
    result->token_ids.insert(result->token_ids.end(), e.token_ids.begin(), e.token_ids.end());
    if (!e.final) return;
    result->finish_reason = e.finish_reason;
    result->usage = e.usage;
    result->timings = e.timings;
    result->error = e.error;
    result->seed = e.seed;
    promise->set_value(std::move(*result));
  });
  return future;
}

void Client::cancel(uint64_t id) { caf::anon_send(node_, cancel_atom::value, id); }

StatsReport Client::stats(std::chrono::milliseconds timeout) {
  caf::scoped_actor self{system_};
  StatsReport report;
  std::string failure;
  self->request(node_, timeout, stats_atom::value)
      .receive([&](StatsReport& r) { report = std::move(r); }, [&](caf::error& e) { failure = system_.render(e); });
  if (!failure.empty()) throw std::runtime_error("no stats from the node: " + failure);
  return report;
}

}  // namespace pio
