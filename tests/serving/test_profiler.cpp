// The profiler's latency report as `pio stats` shows it: count and max since start, percentiles
// from prometheus-cpp's summary (its sliding window is 10 minutes here, not the library's 60 s
// default; a test cannot wait that out, so only the values are checked).
#include <boost/test/unit_test.hpp>

#include "serving/profiler.h"

using namespace pio;

namespace {

const LatencySummary& latency(const StatsReport& r, const std::string& stage) {
  for (const LatencySummary& l : r.latencies)
    if (l.stage == stage) return l;
  throw std::runtime_error("no stage " + stage);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_stage_without_samples_has_no_percentiles_rather_than_zero) {
  const Profiler p("cpu", "test");
  const StatsReport report = p.report({}, 0, 0);
  const LatencySummary& l = latency(report, "prefill");
  BOOST_TEST(l.count == 0);
  BOOST_TEST(l.p50_ms == LatencySummary::kNoSample);
  BOOST_TEST(l.p99_ms == LatencySummary::kNoSample);
  BOOST_TEST(l.max_ms == 0.0);
}

BOOST_AUTO_TEST_CASE(percentiles_of_the_samples_within_the_summarys_error) {
  Profiler p("cpu", "test");
  for (int ms = 41; ms >= 1; --ms) p.stage("prefill", ms);  // 1..41 ms, out of order
  p.stage("no such stage", 1000);                            // ignored
  const StatsReport report = p.report({}, 0, 0);
  const LatencySummary& l = latency(report, "prefill");
  BOOST_TEST(l.count == 41);
  BOOST_TEST(l.max_ms == 41.0);
  // prometheus-cpp's CKMS estimate, which reads up to two ranks low on so few samples (its
  // objectives allow 0.01, 0.01 and 0.001 of the count): the true ranks give 21, 37 and 41.
  BOOST_TEST(l.p50_ms >= 19.0);
  BOOST_TEST(l.p50_ms <= 21.0);
  BOOST_TEST(l.p90_ms >= 35.0);
  BOOST_TEST(l.p90_ms <= 37.0);
  BOOST_TEST(l.p99_ms >= 39.0);
  BOOST_TEST(l.p99_ms <= 41.0);
}
