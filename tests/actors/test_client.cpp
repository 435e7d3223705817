// pio::Client against a stand-in node (a node_api actor in this process, no model): a node lost
// while a request streams ends it with a final error event (and complete()'s future with an
// error result), a node lost before it takes a request or answers stats fails the call at once
// rather than after its timeout, and a node that never takes a request fails submit after the
// request timeout; a remote client over a plain port refuses a request larger than the port
// takes. Plus check_tls_files' refusals, with certificates from scripts/make-certs.
#define BOOST_TEST_MODULE client
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <future>

#include <caf/io/middleman.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/client.h"
#include "actors/node.h"
#include "tests/support/temp_dir.h"

using namespace pio;
using namespace std::chrono_literals;

namespace {

// A stand-in node: takes every request (id 7) and streams one delta, then nothing; or, with
// `mute`, never answers a submit or a stats request.
node_api::behavior_type stand_in(node_api::pointer, bool mute) {
  return {[mute](submit_atom, const ChatRequest&, const stream_sink& sink) -> caf::result<uint64_t> {
            if (mute) return caf::delegated<uint64_t>();
            StreamEvent e;
            e.request_id = 7;
            e.text = "partial";
            caf::anon_send(sink, event_atom::value, e);
            return uint64_t{7};
          },
          [](cancel_atom, uint64_t) {},
          [](stats_atom) -> caf::result<StatsReport> { return caf::delegated<StatsReport>(); }};
}

struct Fixture {
  ActorSystem actors;
  caf::actor_system& system = *actors;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(lost_node_ends_the_stream_with_an_error, Fixture) {
  auto node = system.spawn(stand_in, false);
  Client client(system, node, "the stand-in");
  std::promise<StreamEvent> last;
  std::atomic<int> events{0};
  const uint64_t id = client.submit({}, [&](const StreamEvent& e) {
    ++events;
    if (e.final) last.set_value(e);
  });
  BOOST_TEST(id == 7u);
  auto result = client.complete({});
  auto final_event = last.get_future();
  BOOST_TEST((final_event.wait_for(200ms) == std::future_status::timeout));  // streaming, not ended
  const auto t0 = std::chrono::steady_clock::now();
  caf::anon_send_exit(node, caf::exit_reason::kill);
  BOOST_REQUIRE((final_event.wait_for(5s) == std::future_status::ready));
  const StreamEvent e = final_event.get();
  BOOST_TEST(seconds_since(t0) < 1.0);
  BOOST_TEST(e.final);
  BOOST_TEST(e.request_id == 7u);
  BOOST_TEST(e.finish_reason == "error");
  BOOST_TEST(e.error.message.find("lost the stand-in") != std::string::npos, e.error.message);
  BOOST_TEST(events.load() == 2);  // the delta, then the final event
  BOOST_REQUIRE((result.wait_for(5s) == std::future_status::ready));
  const ChatResult r = result.get();
  BOOST_TEST(r.text == "partial");
  BOOST_TEST(r.finish_reason == "error");
}

BOOST_FIXTURE_TEST_CASE(lost_node_fails_new_calls_at_once, Fixture) {
  auto node = system.spawn(stand_in, true);
  Client client(system, node, "the stand-in", 30s);
  caf::anon_send_exit(node, caf::exit_reason::kill);
  std::this_thread::sleep_for(50ms);
  const auto t0 = std::chrono::steady_clock::now();
  bool called = false;
  BOOST_CHECK_EXCEPTION(client.submit({}, [&](const StreamEvent&) { called = true; }), std::runtime_error,
                        [](const std::runtime_error& e) { return std::string(e.what()).find("lost the stand-in") != std::string::npos; });
  BOOST_CHECK_EXCEPTION(client.stats(30s), std::runtime_error,
                        [](const std::runtime_error& e) { return std::string(e.what()).find("lost the stand-in") != std::string::npos; });
  BOOST_TEST(seconds_since(t0) < 2.0);  // not the 30 s timeouts
  BOOST_TEST(!called);
}

BOOST_FIXTURE_TEST_CASE(lost_node_fails_calls_in_flight, Fixture) {
  auto node = system.spawn(stand_in, true);
  Client client(system, node, "the stand-in", 30s);
  auto submitted = std::async(std::launch::async, [&] { return client.submit({}, [](const StreamEvent&) {}); });
  auto stats = std::async(std::launch::async, [&] { return client.stats(30s); });
  std::this_thread::sleep_for(200ms);
  caf::anon_send_exit(node, caf::exit_reason::kill);
  BOOST_REQUIRE((submitted.wait_for(5s) == std::future_status::ready));
  BOOST_REQUIRE((stats.wait_for(5s) == std::future_status::ready));
  BOOST_CHECK_THROW(submitted.get(), std::runtime_error);
  BOOST_CHECK_THROW(stats.get(), std::runtime_error);
}

BOOST_FIXTURE_TEST_CASE(a_request_never_taken_times_out, Fixture) {
  auto node = system.spawn(stand_in, true);
  Client client(system, node, "the stand-in", 300ms);
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_CHECK_EXCEPTION(client.submit({}, [](const StreamEvent&) {}), std::runtime_error,
                        [](const std::runtime_error& e) { return std::string(e.what()).find("did not take") != std::string::npos; });
  BOOST_TEST(seconds_since(t0) >= 0.3);
  BOOST_TEST(seconds_since(t0) < 3.0);
  BOOST_CHECK_THROW(client.stats(300ms), std::runtime_error);
  caf::anon_send_exit(node, caf::exit_reason::kill);
}

// Over a plain port (published here by a stand-in's own system), a request larger than the
// port's frame limit is refused before anything is sent, saying so; one just under it goes.
BOOST_FIXTURE_TEST_CASE(a_plain_remote_client_refuses_a_request_over_the_ports_frame_limit, Fixture) {
  auto node = system.spawn(stand_in, false);
  auto port = system.middleman().publish(node, 0, "127.0.0.1");
  BOOST_REQUIRE(port);
  auto client = Client::connect("127.0.0.1", *port);
  const auto with_image = [](size_t bytes) {
    ChatRequest r;
    r.messages = {{"user", {{"", std::vector<uint8_t>(bytes, 7), true}, {"What is it?", {}, false}}}};
    return r;
  };
  BOOST_CHECK_EXCEPTION(client->submit(with_image(size_t{256} << 20), [](const StreamEvent&) {}), std::invalid_argument,
                        [](const std::invalid_argument& e) {
                          return std::string(e.what()).find("takes at most 255 MiB in one request on a plain port") !=
                                 std::string::npos;
                        });
  std::promise<void> streamed;
  std::atomic<int> events{0};
  BOOST_TEST(client->submit(with_image(size_t{16} << 20), [&](const StreamEvent&) {
    if (events++ == 0) streamed.set_value();
  }) == 7u);
  BOOST_TEST((streamed.get_future().wait_for(10s) == std::future_status::ready));
  caf::anon_send_exit(node, caf::exit_reason::kill);  // ends the stream, so the client's sink ends too
  client.reset();
}

BOOST_AUTO_TEST_CASE(tls_files_are_checked_before_use) {
  test::TempDir dir{"certs"};
  const std::string d = dir.path().string();
  const std::string make = std::string("'") + PIO_REPO_DIR + "/scripts/make-certs' ";
  BOOST_REQUIRE(std::system((make + "'" + d + "/a' node >/dev/null").c_str()) == 0);
  BOOST_REQUIRE(std::system((make + "'" + d + "/b' node >/dev/null").c_str()) == 0);
  const TlsFiles good{d + "/a/node.pem", d + "/a/node.key", d + "/a/ca.pem"};
  BOOST_CHECK_NO_THROW(check_tls_files(good));
  auto refused = [](TlsFiles f, const std::string& expected) {
    try {
      check_tls_files(f);
    } catch (const std::invalid_argument& e) {
      BOOST_TEST(std::string(e.what()).find(expected) != std::string::npos, e.what());
      return;
    }
    BOOST_ERROR("accepted: " + expected);
  };
  refused({good.cert, "", good.ca}, "--tls-key: missing");
  refused({good.cert, good.key, d + "/none.pem"}, "--tls-ca: cannot read");
  refused({good.key, good.key, good.ca}, "--tls-cert:");                      // a key is no certificate
  refused({good.cert, d + "/b/node.key", good.ca}, "is not the key of");      // another pair's key
  refused({good.cert, good.key, d + "/b/ca.pem"}, "is not accepted by --tls-ca");  // another cluster's CA
}
