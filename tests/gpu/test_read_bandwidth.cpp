// The memory read-bandwidth probe `pio bench` prints: one figure per pass, each a plausible rate,
// and bad arguments refused.
#define BOOST_TEST_MODULE read_bandwidth
#include <boost/test/unit_test.hpp>

#include <stdexcept>

#include "gpu/cpu/read_bandwidth.h"

using namespace pio::cpu;

BOOST_AUTO_TEST_CASE(one_positive_rate_per_pass) {
  ThreadPool pool(2);
  const auto gb_s = probe_read_bandwidth(pool, 8 << 20, 3);
  BOOST_TEST(gb_s.size() == 3u);
  // Slower than 0.1 GB/s or faster than 10 TB/s would mean a broken clock or skipped reads.
  for (double r : gb_s) BOOST_TEST((r > 0.1 && r < 10000.0));
}

BOOST_AUTO_TEST_CASE(refuses_empty_probes) {
  ThreadPool pool(1);
  BOOST_CHECK_THROW(probe_read_bandwidth(pool, 0, 1), std::invalid_argument);
  BOOST_CHECK_THROW(probe_read_bandwidth(pool, 1 << 20, 0), std::invalid_argument);
}
