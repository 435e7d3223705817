// The memory read-bandwidth probe `pio bench` prints beside decode: a plausible rate over ranges
// of any alignment, and nothing to read refused.
#define BOOST_TEST_MODULE read_bandwidth
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <vector>

#include "gpu/cpu/read_bandwidth.h"

using namespace pio::cpu;

BOOST_AUTO_TEST_CASE(a_plausible_rate_over_unaligned_ranges) {
  ThreadPool pool(2);
  std::vector<uint8_t> memory((8 << 20) + 1000, 7);
  // Weights in a checkpoint are only 2-byte aligned, and their sizes are not 128-byte multiples.
  const std::vector<std::span<const uint8_t>> ranges{std::span<const uint8_t>(memory).subspan(2, 5 << 20),
                                                     std::span<const uint8_t>(memory).subspan((5 << 20) + 6, 3000)};
  const double gb_s = probe_read_bandwidth(pool, ranges);
  // Slower than 0.1 GB/s or faster than 10 TB/s would mean a broken clock or skipped reads.
  BOOST_TEST((gb_s > 0.1 && gb_s < 10000.0));
}

BOOST_AUTO_TEST_CASE(refuses_ranges_without_a_whole_group) {
  ThreadPool pool(1);
  std::vector<uint8_t> memory(127);
  BOOST_CHECK_THROW(probe_read_bandwidth(pool, {}), std::invalid_argument);
  const std::vector<std::span<const uint8_t>> short_ranges{std::span<const uint8_t>(memory)};
  BOOST_CHECK_THROW(probe_read_bandwidth(pool, short_ranges), std::invalid_argument);
}
