// pio::ActorSystem's shutdown: CAF 0.17.6 leaves its BASP broker alive for good when a heartbeat
// tick arrives after the network module stopped (the tick, sent by the broker to itself, stays in
// a mailbox that is never closed). With a 1 ms heartbeat nearly every shutdown meets such a tick;
// after ActorSystem's none may leave the broker alive.
#define BOOST_TEST_MODULE actor_system
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>

#include <caf/io/basp_broker.hpp>
#include <caf/io/middleman.hpp>

#include "actors/actor_system.h"

using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(no_shutdown_leaves_the_basp_broker_alive_even_with_a_tick_due) {
  for (int i = 0; i < 50; ++i) {
    caf::weak_actor_ptr broker;
    {
      pio::ActorSystem actors({}, 1ms);
      broker = caf::actor_cast<caf::weak_actor_ptr>(
          actors->middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP")));
      std::this_thread::sleep_for(std::chrono::milliseconds(2 + i % 5));
    }
    BOOST_TEST_INFO("shutdown " << i);
    BOOST_TEST(!caf::actor_cast<caf::strong_actor_ptr>(broker));
  }
}
