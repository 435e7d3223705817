// Admission control: start below soft, wait above it (bounded), refuse above hard.
#include <boost/test/unit_test.hpp>

#include <stdexcept>

#include "serving/admission.h"

using namespace pio;
using D = Admission::Decision;

BOOST_AUTO_TEST_SUITE(admission)

BOOST_AUTO_TEST_CASE(soft_waits_hard_refuses_and_release_follows_arrival_order) {
  Admission a({100, 200, 2, 10});
  BOOST_TEST((a.arrive(1, 50) == D::start));
  BOOST_TEST((a.arrive(2, 150) == D::wait));  // above soft
  BOOST_TEST((a.arrive(3, 120) == D::wait));
  BOOST_TEST((a.arrive(4, 120) == D::refuse));  // the queue holds 2
  BOOST_TEST((a.arrive(5, 250) == D::refuse));  // above hard
  BOOST_TEST(a.release(150).empty());           // still above soft
  BOOST_TEST((a.arrive(6, 50) == D::refuse));   // below soft, but others wait first and the queue is full
  BOOST_TEST(a.release(80) == (std::vector<uint64_t>{2, 3}));
  BOOST_TEST(a.running() == 3u);
  BOOST_TEST(a.queued() == 0u);
}

BOOST_AUTO_TEST_CASE(max_running_queues_the_rest_until_one_ends) {
  Admission a({0, 0, 8, 2});
  BOOST_TEST((a.arrive(1, 0) == D::start));
  BOOST_TEST((a.arrive(2, 0) == D::start));
  BOOST_TEST((a.arrive(3, 0) == D::wait));
  BOOST_TEST(a.release(0).empty());
  a.ended(1);
  BOOST_TEST(a.release(0) == (std::vector<uint64_t>{3}));
  a.ended(42);  // unknown ids are ignored
  BOOST_TEST(a.running() == 2u);
}

BOOST_AUTO_TEST_CASE(a_waiting_request_that_ends_leaves_the_queue) {
  Admission a({10, 0, 8, 8});
  BOOST_TEST((a.arrive(1, 20) == D::wait));
  a.ended(1);
  BOOST_TEST(a.queued() == 0u);
  BOOST_TEST(a.release(0).empty());
  BOOST_CHECK_THROW(Admission({200, 100, 1, 1}), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
