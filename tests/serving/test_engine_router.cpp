// The router's placement: least loaded first, cancellations find their group, a dead group
// names what it held.
#include <boost/test/unit_test.hpp>

#include <stdexcept>

#include "serving/engine_router.h"

using pio::EngineRouter;

BOOST_AUTO_TEST_SUITE(engine_router)

BOOST_AUTO_TEST_CASE(places_on_the_least_loaded_group_and_forgets_ended_requests) {
  EngineRouter r(3);
  BOOST_TEST(r.place(1) == 0u);
  BOOST_TEST(r.place(2) == 1u);
  BOOST_TEST(r.place(3) == 2u);
  BOOST_TEST(r.place(4) == 0u);
  BOOST_TEST(r.place(4) == 0u);  // placed once
  r.ended(2);
  BOOST_TEST(r.place(5) == 1u);  // group 1 is the least loaded again
  BOOST_TEST(*r.group_of(3) == 2u);
  BOOST_TEST(!r.group_of(2));
  BOOST_TEST(r.in_flight(0) == 2u);
}

BOOST_AUTO_TEST_CASE(a_dropped_group_names_its_requests) {
  EngineRouter r(2);
  for (uint64_t id = 1; id <= 6; ++id) r.place(id);
  BOOST_TEST(r.drop_group(1) == (std::vector<uint64_t>{2, 4, 6}));
  BOOST_TEST(r.in_flight(1) == 0u);
  BOOST_TEST(!r.group_of(4));
  BOOST_CHECK_THROW(EngineRouter(0), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
