#include "actors/client.h"

#include <netdb.h>

#include <set>
#include <stdexcept>

#include <caf/detail/serialized_size.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/basp_frames.h"
#include "actors/error_words.h"
#include "actors/node.h"

namespace pio {
namespace {

std::string seconds_text(std::chrono::milliseconds t) {
  const std::string s = std::to_string(static_cast<double>(t.count()) / 1000);
  return s.substr(0, s.find('.') + 2) + " s";
}

// Why a node's actor went down, for people: a remote node is lost when its connection breaks
// or brings nothing for kConnectionTimeout.
std::string lost_message(caf::actor_system& system, const std::string& name, const caf::error& reason) {
  const std::string why = reason == caf::exit_reason::remote_link_unreachable
                              ? "its connection broke, or it sent nothing for " + seconds_text(kConnectionTimeout)
                              : "it shut down";
  return "lost " + name + ": " + why + " (" + system.render(reason) + ")";
}

// The front door published at host:port, connected through `middleman` (plain or TLS) without
// waiting past `timeout`. CAF drops a connection whose handshake is still pending at one of its
// heartbeat ticks (sec::connection_timeout): that is retried until the deadline.
node_api connect_node(caf::actor_system& system, const caf::io::middleman_actor& middleman, const std::string& host,
                      uint16_t port, bool tls, std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + timeout;
  const std::string where = "cannot reach a node at " + host + ":" + std::to_string(port) + ": ";
  const std::string hint = tls ? " (the node refused this certificate, --tls-ca did not sign the node's, or the port is not TLS)"
                               : " (a TLS port needs --tls-cert, --tls-key and --tls-ca; a node out of descriptors also closes new connections)";
  // CAF reports a name that does not resolve as it does a closed port: resolved here first.
  addrinfo* resolved = nullptr;
  if (const int err = ::getaddrinfo(host.c_str(), nullptr, nullptr, &resolved); err != 0)
    throw std::runtime_error(where + "the host name does not resolve (" + ::gai_strerror(err) + ")");
  ::freeaddrinfo(resolved);
  caf::scoped_actor self{system};
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) throw std::runtime_error(where + "no handshake within " + seconds_text(timeout) + hint);
    caf::strong_actor_ptr found;
    std::set<std::string> interface;
    caf::error failure;
    self->request(middleman, left, caf::connect_atom::value, host, port)
        .receive(
            [&](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>& ifs) {
              found = std::move(ptr);
              interface = std::move(ifs);
            },
            [&](caf::error& e) { failure = std::move(e); });
    if (failure == caf::sec::connection_timeout) continue;
    if (failure == caf::sec::request_timeout)
      throw std::runtime_error(where + "no handshake within " + seconds_text(timeout) + hint);
    if (failure == caf::sec::cannot_connect_to_node)
      throw std::runtime_error(where + "nothing accepts connections there (is the node running?)");
    if (failure == caf::sec::malformed_basp_message)
      throw std::runtime_error(where + "the peer there does not speak pio's client protocol (is it the node's HTTP "
                                       "port? pio commands take its client-API port, --port)");
    if (failure == caf::sec::disconnect_during_handshake)
      throw std::runtime_error(where + "the peer closed the connection during the handshake" + hint);
    if (failure) throw std::runtime_error(where + system.render(failure));
    if (!found) throw std::runtime_error(where + "nothing is published on that port");
    if (!system.assignable<node_api>(interface))
      throw std::runtime_error(where + "it serves another interface (a pio of another version?)");
    return caf::actor_cast<node_api>(std::move(found));
  }
}

// Ends an actor that watches `node`. A monitor stays attached to the watched actor until that
// one dies, keeping the watcher's memory: a node that serves for months must not collect one
// per request, so it is removed first.
template <class Self>
void stop_watching(Self* self, const node_api& node) {
  self->demonitor(node.address());
  self->quit();
}

// A request's sink: submits it, hands its events to the caller's callback, and ends it with a
// final error event when the node is lost.
struct SinkState {
  ChatRequest request;  // moved out when sent
  std::function<void(const StreamEvent&)> on_event;
  std::promise<uint64_t> taken;  // the request's id, or why the node did not take it
  bool answered = false;
  uint64_t id = 0;

  void take(uint64_t assigned) {
    if (answered) return;
    answered = true;
    id = assigned;
    taken.set_value(assigned);
  }
  void refuse(const std::string& why) {
    if (answered) return;
    answered = true;
    taken.set_exception(std::make_exception_ptr(std::runtime_error(why)));
  }
};

stream_sink::behavior_type sink(stream_sink::pointer self, std::shared_ptr<SinkState> st, node_api node,
                                std::string name, std::chrono::milliseconds timeout) {
  self->monitor(node);
  self->set_down_handler([self, st, name](caf::down_msg& down) {
    const std::string why = lost_message(self->system(), name, down.reason);
    if (!st->answered) {
      st->refuse(why);
    } else {
      StreamEvent e;
      e.request_id = st->id;
      e.final = true;
      e.finish_reason = "error";
      e.error = {ErrorCode::internal, why};
      st->on_event(e);
    }
    self->quit();  // the node is gone, and its monitor with it
  });
  self->request(node, timeout, submit_atom::value, std::move(st->request), caf::actor_cast<stream_sink>(self))
      .then([st](uint64_t id) { st->take(id); },
            [self, st, node](caf::error& e) {
              st->refuse("the node did not take the request: " + error_words(self->system(), e));
              stop_watching(self, node);
            });
  return {[self, st, node](event_atom, const StreamEvent& e) {
    st->take(e.request_id);  // should an event overtake the answer
    st->on_event(e);
    if (e.final) stop_watching(self, node);
  }};
}

}  // namespace

std::unique_ptr<Client> Client::connect(const std::string& host, uint16_t port, const ClientOptions& options) {
  if (options.tls.enabled()) check_tls_files(options.tls);
  auto system = std::make_unique<ActorSystem>(options.tls);
  const caf::io::middleman_actor middleman =
      options.tls.enabled() ? (*system)->openssl_manager().actor_handle() : (*system)->middleman().actor_handle();
  node_api node = connect_node(**system, middleman, host, port, options.tls.enabled(), options.connect_timeout);
  auto client = std::unique_ptr<Client>(new Client(std::move(system), std::move(node),
                                                   "the node at " + host + ":" + std::to_string(port), options.request_timeout));
  // A plain port closes a connection whose frame is larger (pio-node's check, actors/basp_frames.h);
  // the frame's own fields (sender, receiver, type names) take far less than the margin.
  constexpr uint64_t kFrameFieldsMargin = 64 << 10;
  if (!options.tls.enabled()) client->max_request_bytes_ = BaspFrameLimits{}.max_payload - kFrameFieldsMargin;
  return client;
}

Client::Client(Node& node) : Client(node.system(), node.api(), "the node") {}

Client::Client(caf::actor_system& system, node_api node, std::string name, std::chrono::milliseconds request_timeout)
    : system_(system), node_(std::move(node)), name_(std::move(name)), request_timeout_(request_timeout) {}

Client::Client(std::unique_ptr<ActorSystem> system, node_api node, std::string name, std::chrono::milliseconds request_timeout)
    : owned_system_(std::move(system)),
      system_(**owned_system_),
      node_(std::move(node)),
      name_(std::move(name)),
      request_timeout_(request_timeout) {}

Client::~Client() {
  node_ = nullptr;
  owned_system_.reset();
}

uint64_t Client::submit(ChatRequest request, std::function<void(const StreamEvent&)> on_event) {
  if (max_request_bytes_ > 0) {
    const uint64_t bytes = caf::detail::serialized_size(system_, request);
    if (bytes > max_request_bytes_)
      throw std::invalid_argument("the request takes " + std::to_string(bytes >> 20) + " MiB serialised; " + name_ +
                                  " takes at most " + std::to_string(max_request_bytes_ >> 20) +
                                  " MiB in one request on a plain port (fewer or smaller images, or a TLS port)");
  }
  auto st = std::make_shared<SinkState>();
  st->request = std::move(request);
  st->on_event = std::move(on_event);
  auto taken = st->taken.get_future();
  system_.spawn(sink, st, node_, name_, request_timeout_);
  return taken.get();
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
  auto answer = std::make_shared<std::promise<StatsReport>>();
  auto report = answer->get_future();
  system_.spawn(
      [](caf::event_based_actor* self, node_api node, std::string name, std::chrono::milliseconds limit,
         std::shared_ptr<std::promise<StatsReport>> out) {
        auto fail = [self, out, node](const std::string& why) {
          out->set_exception(std::make_exception_ptr(std::runtime_error("no stats from the node: " + why)));
          stop_watching(self, node);
        };
        self->monitor(node);
        self->set_down_handler([self, name, fail](caf::down_msg& down) { fail(lost_message(self->system(), name, down.reason)); });
        self->request(node, limit, stats_atom::value)
            .then(
                [self, out, node](StatsReport& r) {
                  out->set_value(std::move(r));
                  stop_watching(self, node);
                },
                [self, fail](caf::error& e) { fail(error_words(self->system(), e)); });
      },
      node_, name_, timeout, answer);
  return report.get();
}

}  // namespace pio
