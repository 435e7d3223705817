// Sampling: greedy limits, top-k / top-p truncation, temperature, reproducibility.
#define BOOST_TEST_MODULE sampler
#include <boost/test/unit_test.hpp>

#include <map>

#include "model/sampler.h"

using namespace pio;

namespace {
const std::vector<float> kLogits{1.0f, 3.0f, 2.9f, -1.0f, 0.5f, 2.0f};
}

BOOST_AUTO_TEST_CASE(zero_temperature_and_top_k_one_are_greedy) {
  Sampler greedy({0.0f, 0, 1.0f, 1});
  Sampler k1({1.5f, 1, 1.0f, 2});
  for (int i = 0; i < 50; ++i) {
    BOOST_TEST(greedy.next(kLogits) == 1);
    BOOST_TEST(k1.next(kLogits) == 1);
  }
}

BOOST_AUTO_TEST_CASE(top_k_and_top_p_bound_the_candidates) {
  Sampler k2({1.0f, 2, 1.0f, 3});
  // Softmax mass: id 1 ≈ 0.40, id 2 ≈ 0.36: top_p 0.5 keeps exactly those two.
  Sampler p({1.0f, 0, 0.5f, 4});
  std::map<int32_t, int> seen_k, seen_p;
  for (int i = 0; i < 2000; ++i) {
    ++seen_k[k2.next(kLogits)];
    ++seen_p[p.next(kLogits)];
  }
  BOOST_TEST(seen_k.size() == 2u);
  BOOST_TEST(seen_k.count(1) + seen_k.count(2) == 2u);
  BOOST_TEST(seen_p.size() == 2u);
  BOOST_TEST(seen_p.count(1) + seen_p.count(2) == 2u);
  // Frequencies follow exp(3) : exp(2.9) = 1.105 within sampling noise (2000 draws).
  const double ratio = double(seen_k[1]) / seen_k[2];
  BOOST_TEST(ratio > 0.9);
  BOOST_TEST(ratio < 1.35);
}

BOOST_AUTO_TEST_CASE(temperature_flattens_and_seed_reproduces) {
  Sampler hot({100.0f, 0, 1.0f, 5});
  std::map<int32_t, int> seen;
  for (int i = 0; i < 3000; ++i) ++seen[hot.next(kLogits)];
  BOOST_TEST(seen.size() == kLogits.size());  // every id is drawn at a high temperature
  for (const auto& [id, count] : seen) BOOST_TEST(count > 350, "id " << id);

  Sampler a({0.7f, 20, 0.8f, 42}), b({0.7f, 20, 0.8f, 42});
  for (int i = 0; i < 100; ++i) BOOST_TEST(a.next(kLogits) == b.next(kLogits));
}
