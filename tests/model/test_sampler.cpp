// Sampling: greedy limits, log-probabilities and logit_bias against a double reference, top-k / top-p truncation, temperature, reproducibility, draws that
// depend on (seed, token index) alone, a fresh seed when none is given.
#define BOOST_TEST_MODULE sampler
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

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

// argmax against a plain loop: the first of equal maxima wherever it lies (in the lanes or the
// tail), rows of every length up to a few lanes past 16 and a vocabulary-sized one, few
// distinct values so ties are common, NaNs skipped.
BOOST_AUTO_TEST_CASE(argmax_is_the_first_largest_logit) {
  const auto reference = [](const std::vector<float>& row) {
    int32_t best = -1;
    for (size_t i = 0; i < row.size(); ++i)
      if (!std::isnan(row[i]) && (best < 0 || row[i] > row[static_cast<size_t>(best)])) best = static_cast<int32_t>(i);
    return best < 0 ? 0 : best;
  };
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> value(-3, 3), coin(0, 9);
  std::vector<size_t> sizes{151936};
  for (size_t n = 0; n <= 40; ++n) sizes.push_back(n);
  for (size_t n : sizes)
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> row(n);
      for (float& v : row) v = coin(rng) == 0 ? std::nanf("") : static_cast<float>(value(rng));
      BOOST_TEST_REQUIRE(argmax(row) == reference(row), "n " << n << ", trial " << trial);
    }
  const float inf = std::numeric_limits<float>::infinity();
  BOOST_TEST(argmax(std::vector<float>(37, -inf)) == 0);
  BOOST_TEST(argmax(std::vector<float>{-inf, std::nanf(""), -inf}) == 0);
  BOOST_TEST(argmax(std::vector<float>(20, std::nanf(""))) == 0);
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

namespace {
// The ids transformers' warpers keep, in double over a sorted row: TopK (the k largest, and every
// id tied with the k-th), TopP (the fewest most likely ids whose share of the top-k mass reaches
// top_p, and every id tied with the last), MinP (p >= min_p * p_max), with each id's weight
// e^((x - max) / T). `ambiguous` is set when the top-p boundary lies within the float weights'
// rounding of top_p (each e^a is off by up to 2e-7 + |a| 6e-8, a = (x - max) / T rounded to
// float): then either side of it is right.
std::map<int32_t, double> reference_kept(const std::vector<float>& logits, const SamplingOptions& o, bool& ambiguous) {
  double peak = -std::numeric_limits<double>::infinity();
  for (float x : logits)
    if (!std::isnan(x)) peak = std::max(peak, static_cast<double>(x));
  std::vector<int32_t> ids;
  for (size_t i = 0; i < logits.size(); ++i)
    if (!std::isnan(logits[i]) && !std::isinf(logits[i])) ids.push_back(static_cast<int32_t>(i));
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  const auto weight = [&](int32_t id) { return std::exp((logits[id] - peak) / o.temperature); };
  size_t keep = ids.size();
  if (o.top_k > 0 && static_cast<size_t>(o.top_k) < keep) keep = static_cast<size_t>(o.top_k);
  while (keep < ids.size() && logits[ids[keep]] == logits[ids[keep - 1]]) ++keep;
  ambiguous = false;
  if (o.top_p < 1.0f) {
    double total = 0, mass = 0, rounding = 0;
    for (size_t i = 0; i < keep; ++i) {
      total += weight(ids[i]);
      rounding += weight(ids[i]) * (2e-7 + 6e-8 * std::abs(std::log(weight(ids[i]))));
    }
    size_t n = 0;
    while (n < keep && mass < o.top_p * total) mass += weight(ids[n++]);
    ambiguous = mass - o.top_p * total < rounding || o.top_p * total - (mass - weight(ids[n - 1])) < rounding;
    while (n < keep && logits[ids[n]] == logits[ids[n - 1]]) ++n;
    keep = n;
  }
  std::map<int32_t, double> kept;
  for (size_t i = 0; i < keep; ++i)
    if (weight(ids[i]) >= o.min_p) kept[ids[i]] = weight(ids[i]);
  return kept;
}
}  // namespace

// The kept ids and their weights equal the sorted double reference's, over vocabulary-sized rows
// flat and peaked, with ties, -infinity and NaN logits; and each draw picks the id whose span of
// the kept mass, the ids in id order, holds sample_draw * total.
BOOST_AUTO_TEST_CASE(truncation_and_draw_match_a_sorted_double_reference) {
  std::mt19937 rng(31);
  int compared = 0;
  for (float sigma : {0.05f, 1.0f, 4.0f}) {
    std::normal_distribution<float> normal(0.0f, sigma);
    std::vector<float> logits(151936);
    for (auto& l : logits) l = normal(rng);
    for (size_t i = 0; i < 3000; ++i) logits[i * 50] = logits[7];  // ties, the top ones among them
    logits[11] = -std::numeric_limits<float>::infinity();
    logits[12] = std::nanf("");
    for (const SamplingOptions& o : {SamplingOptions{1.0f, 0, 0.9f, 1}, SamplingOptions{0.7f, 50, 1.0f, 2},
                                     SamplingOptions{1.3f, 40, 0.8f, 3}, SamplingOptions{0.9f, 0, 0.5f, 4, 0.2f},
                                     SamplingOptions{1.0f, 0, 1.0f, 5}, SamplingOptions{0.5f, 1, 1.0f, 6},
                                     SamplingOptions{2.0f, 0, 0.3f, 7}}) {
      bool ambiguous = false;
      const auto want = reference_kept(logits, o, ambiguous);
      std::vector<float> weights, scratch;
      truncated_weights(logits, o, weights, scratch);
      std::map<int32_t, double> got;
      for (size_t i = 0; i < weights.size(); ++i)
        if (weights[i] > 0) got[static_cast<int32_t>(i)] = weights[i];
      if (ambiguous) continue;
      ++compared;
      BOOST_TEST_REQUIRE(got.size() == want.size(), "sigma " << sigma << ", seed " << *o.seed);
      for (const auto& [id, w] : want) {
        BOOST_TEST_REQUIRE(got.count(id) == 1u, "id " << id);
        // The float argument a = (x - max) / T is off by |a| 6e-8, e^a by 2e-7 more; a >= -87.
        BOOST_TEST(got[id] == w, boost::test_tools::tolerance(2e-7 + 6e-8 * std::abs(std::log(w))));
      }
      double total = 0;
      for (const auto& [id, w] : got) total += w;
      for (uint64_t seed = 0; seed < 20; ++seed) {
        SamplingOptions seeded = o;
        seeded.seed = seed;
        const double target = sample_draw(seed, 0) * total;
        double mass = 0;
        int32_t expected = got.rbegin()->first;
        for (const auto& [id, w] : got)
          if (target < (mass += w)) {
            expected = id;
            break;
          }
        BOOST_TEST(Sampler(seeded).next(logits) == expected, "sigma " << sigma << ", seed " << seed);
      }
    }
  }
  BOOST_TEST(compared >= 19);  // at most a few boundaries within rounding
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

namespace {
// The penalties as transformers and vLLM state them, over the whole vocabulary in double:
// RepetitionPenaltyLogitsProcessor over prompt + generated ids, then
// logits -= presence * (count > 0) + frequency * count over the generated ids.
std::vector<double> reference_penalised(const std::vector<float>& logits, const std::vector<int32_t>& prompt,
                                        const std::vector<int32_t>& generated, const SamplingOptions& o) {
  std::vector<double> out(logits.begin(), logits.end());
  for (const LogitBias& b : o.logit_bias) out[b.id] += b.bias;  // OpenAI's logit_bias, before the penalties (vLLM)
  std::vector<bool> seen(logits.size(), false);
  std::vector<int> count(logits.size(), 0);
  for (int32_t id : prompt) seen[id] = true;
  for (int32_t id : generated) seen[id] = true, ++count[id];
  for (size_t i = 0; i < out.size(); ++i) {
    if (seen[i]) out[i] = out[i] > 0 ? out[i] / o.repetition_penalty : out[i] * o.repetition_penalty;
    if (count[i] > 0) out[i] -= o.presence_penalty + o.frequency_penalty * count[i];
  }
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(penalties_match_the_reference_step_by_step) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(64);
  for (auto& l : logits) l = normal(rng);
  const std::vector<int32_t> prompt{3, 7, 7, 12, 40};
  for (const SamplingOptions& o : {SamplingOptions{0.0f, 0, 1.0f, 0, 0.0f, 1.3f, 0.0f, 0.0f},
                                   SamplingOptions{0.0f, 0, 1.0f, 0, 0.0f, 1.0f, 0.4f, 0.0f},
                                   SamplingOptions{0.0f, 0, 1.0f, 0, 0.0f, 1.0f, 0.0f, 0.7f},
                                   SamplingOptions{0.0f, 0, 1.0f, 0, 0.0f, 1.2f, 0.3f, 0.5f}}) {
    Sampler sampler(o, prompt);
    std::vector<int32_t> generated;
    std::set<int32_t> distinct;
    for (int step = 0; step < 40; ++step) {
      const auto ref = reference_penalised(logits, prompt, generated, o);
      const auto want = static_cast<int32_t>(std::max_element(ref.begin(), ref.end()) - ref.begin());
      const int32_t got = sampler.next(logits);
      BOOST_TEST(got == want, "step " << step);
      generated.push_back(got);
      distinct.insert(got);
    }
    // Without penalties greedy repeats one id forever; a frequency penalty grows until it moves on.
    if (o.frequency_penalty > 0) BOOST_TEST(distinct.size() > 1u);
  }
  // Each id's penalised logit, against the reference formula, for both signs.
  const SamplingOptions o{0.0f, 0, 1.0f, 0, 0.0f, 1.5f, 0.25f, 0.5f};
  BOOST_TEST(penalised_logit(3.0f, true, 0, o) == 2.0f);
  BOOST_TEST(penalised_logit(-3.0f, true, 0, o) == -4.5f);
  BOOST_TEST(penalised_logit(3.0f, false, 2, o) == 2.0f - 0.25f - 1.0f);
  BOOST_TEST(penalised_logit(3.0f, false, 0, o) == 3.0f);
}

BOOST_AUTO_TEST_CASE(min_p_keeps_ids_at_least_min_p_times_the_top_probability) {
  // Relative to id 1 (logit 3) at temperature 1: id 2 0.905, id 5 0.368, id 0 0.135,
  // id 4 0.082, id 3 0.018. min_p 0.3 keeps ids 1, 2 and 5 in proportion 1 : 0.905 : 0.368.
  Sampler s({1.0f, 0, 1.0f, 9, 0.3f});
  std::map<int32_t, int> seen;
  const int draws = 4000;
  for (int i = 0; i < draws; ++i) ++seen[s.next(kLogits)];
  BOOST_TEST(seen.size() == 3u);
  BOOST_TEST(seen.count(1) + seen.count(2) + seen.count(5) == 3u);
  const double total = 1 + std::exp(-0.1) + std::exp(-1.0);
  // Each frequency within 4 standard deviations of its expectation.
  for (const auto& [id, rel] : std::map<int32_t, double>{{1, 1.0}, {2, std::exp(-0.1)}, {5, std::exp(-1.0)}}) {
    const double p = rel / total;
    BOOST_TEST(std::abs(seen[id] - draws * p) < 4 * std::sqrt(draws * p * (1 - p)), "id " << id);
  }
  // min_p at its maximum keeps only the top id.
  Sampler top_only({1.0f, 0, 1.0f, 9, 1.0f});
  for (int i = 0; i < 50; ++i) BOOST_TEST(top_only.next(kLogits) == 1);
}

namespace {
std::vector<int32_t> draws(Sampler& s, const std::vector<float>& logits, int n) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(s.next(logits));
  return out;
}
}  // namespace

// The draw for a token is a function of (seed, index) only: a sampler resumed after k tokens
// (given them as generated) continues exactly as the one that generated them, penalties too,
// whatever the logits before were.
BOOST_AUTO_TEST_CASE(a_resumed_sampler_draws_what_the_original_would) {
  for (const SamplingOptions& o : {SamplingOptions{1.0f, 0, 1.0f, 7}, SamplingOptions{0.8f, 4, 0.9f, 7, 0.05f, 1.3f, 0.4f, 0.2f}}) {
    Sampler whole(o, std::vector<int32_t>{1, 2});
    const std::vector<int32_t> all = draws(whole, kLogits, 60);
    for (size_t k : {size_t{1}, size_t{17}, size_t{59}}) {
      Sampler resumed(o, std::vector<int32_t>{1, 2}, std::span(all).first(k));
      const std::vector<int32_t> rest = draws(resumed, kLogits, static_cast<int>(all.size() - k));
      BOOST_TEST(rest == std::vector<int32_t>(all.begin() + static_cast<std::ptrdiff_t>(k), all.end()), "resumed at " << k);
    }
  }
  // Without penalties, what came before does not matter either: other logits for 10 steps.
  Sampler a({1.0f, 0, 1.0f, 99}), b({1.0f, 0, 1.0f, 99});
  draws(a, kLogits, 10);
  draws(b, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 9.0f}, 10);
  BOOST_TEST(draws(a, kLogits, 50) == draws(b, kLogits, 50));
}

BOOST_AUTO_TEST_CASE(sample_draw_is_uniform_and_depends_on_seed_and_index) {
  BOOST_TEST(sample_draw(5, 3) == sample_draw(5, 3));
  std::set<double> seen;
  std::vector<int> buckets(10, 0);
  const int n = 20000;
  for (uint64_t seed : {uint64_t{0}, uint64_t{1}})
    for (uint64_t i = 0; i < n / 2; ++i) {
      const double u = sample_draw(seed, i);
      BOOST_TEST_REQUIRE((u >= 0.0 && u < 1.0));
      seen.insert(u);
      ++buckets[static_cast<size_t>(u * 10)];
    }
  BOOST_TEST(seen.size() == static_cast<size_t>(n));  // seeds 0 and 1 share no draw
  for (int count : buckets) BOOST_TEST(std::abs(count - n / 10) < 4 * std::sqrt(n * 0.1 * 0.9));
}

// No seed: each sampler draws a fresh one (below 2^63, so it reads the same signed), and the
// answers differ; seed 0 is a seed like any other.
BOOST_AUTO_TEST_CASE(without_a_seed_each_sampler_draws_a_fresh_one) {
  const SamplingOptions unseeded{1.0f, 0, 1.0f};
  BOOST_TEST(!unseeded.seed.has_value());
  std::set<uint64_t> seeds;
  std::set<std::vector<int32_t>> answers;
  for (int i = 0; i < 4; ++i) {
    Sampler s(unseeded);
    BOOST_TEST(s.seed() < kFreshSeedLimit);
    BOOST_TEST(static_cast<uint64_t>(static_cast<double>(s.seed())) == s.seed());  // exact in a JS number
    seeds.insert(s.seed());
    answers.insert(draws(s, kLogits, 64));
  }
  BOOST_TEST(seeds.size() == 4u);
  BOOST_TEST(answers.size() == 4u);
  Sampler zero({1.0f, 0, 1.0f, 0}), again({1.0f, 0, 1.0f, 0});
  BOOST_TEST(zero.seed() == 0u);
  BOOST_TEST(draws(zero, kLogits, 64) == draws(again, kLogits, 64));
  BOOST_TEST(fresh_seed() != fresh_seed());
}

namespace {
// The naive log-softmax in double of processed logits over the temperature: log(e^(x_i/T) / sum_j e^(x_j/T)).
std::vector<double> reference_logprobs(const std::vector<double>& processed, double temperature) {
  double sum = 0;
  for (double x : processed) sum += std::exp(x / temperature);
  std::vector<double> out;
  for (double x : processed) out.push_back(std::log(std::exp(x / temperature) / sum));
  return out;
}

// Ids by the reference's log-probability, most likely first (ties: the lower id).
std::vector<int32_t> reference_order(const std::vector<double>& lp) {
  std::vector<int32_t> ids(lp.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return lp[a] > lp[b]; });
  return ids;
}
}  // namespace

// Each sampled token's log-probability and its top ids equal the naive double log-softmax of
// the same processed logits (bias, penalties, temperature; temperature 1 when greedy), step by
// step over a vocabulary-sized row, whatever truncation (top-k, top-p, min-p) the draw used.
BOOST_AUTO_TEST_CASE(logprobs_match_a_double_reference_step_by_step) {
  std::mt19937 rng(23);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(151936);
  for (auto& l : logits) l = normal(rng);
  const std::vector<int32_t> prompt{3, 7, 7, 12, 40, 90000};
  std::vector<SamplingOptions> options{SamplingOptions{0.0f, 0, 1.0f, 1},
                                       SamplingOptions{0.7f, 0, 1.0f, 2},
                                       SamplingOptions{1.3f, 40, 0.9f, 3, 0.05f},
                                       SamplingOptions{0.0f, 0, 1.0f, 4, 0.0f, 1.2f, 0.3f, 0.5f},
                                       SamplingOptions{0.9f, 0, 0.95f, 5, 0.0f, 1.1f, 0.2f, 0.1f}};
  options[1].logit_bias = {{17, 15.0f}, {3, -100.0f}};
  options[4].logit_bias = {{90000, 12.5f}, {151935, 9.0f}};
  for (size_t k = 0; k < options.size(); ++k) {
    SamplingOptions o = options[k];
    o.logprobs = true;
    o.top_logprobs = 20;
    Sampler sampler(o, prompt);
    std::vector<int32_t> generated;
    for (int step = 0; step < 12; ++step) {
      TokenLogprobs got;
      const int32_t id = sampler.next(logits, &got);
      const auto ref = reference_logprobs(reference_penalised(logits, prompt, generated, o),
                                          o.temperature > 0 ? o.temperature : 1.0);
      const auto order = reference_order(ref);
      BOOST_TEST_REQUIRE(got.chosen.id == id);
      BOOST_TEST(got.chosen.logprob == ref[id], boost::test_tools::tolerance(2e-5));
      BOOST_TEST_REQUIRE(got.top.size() == 20u);
      for (size_t i = 0; i < got.top.size(); ++i) {
        BOOST_TEST(got.top[i].id == order[i], "options " << k << ", step " << step << ", rank " << i);
        BOOST_TEST(got.top[i].logprob == ref[order[i]], boost::test_tools::tolerance(2e-5));
      }
      if (o.temperature <= 0) BOOST_TEST(got.top[0].id == id);  // greedy: the chosen token is the most likely
      generated.push_back(id);
    }
  }
  // The log-probabilities are a distribution: they sum to 1; a -inf logit has probability 0.
  std::vector<float> row(kLogits);
  row.push_back(-std::numeric_limits<float>::infinity());
  const TokenLogprobs all = log_probabilities(row, 0.5f, 6, static_cast<int32_t>(row.size()));
  double mass = 0;
  for (const auto& t : all.top) mass += std::exp(static_cast<double>(t.logprob));
  BOOST_TEST(mass == 1.0, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(std::isinf(all.chosen.logprob));
  BOOST_TEST(all.top.back().id == 6);
  BOOST_CHECK_THROW(log_probabilities(row, 1.0f, 7, 1), std::invalid_argument);
}

// Asking for log-probabilities never changes which id is drawn (same seed, same sequence).
BOOST_AUTO_TEST_CASE(logprobs_leave_the_draws_unchanged) {
  SamplingOptions plain{0.8f, 4, 0.9f, 7, 0.05f, 1.3f, 0.4f, 0.2f};
  SamplingOptions asked = plain;
  asked.logprobs = true;
  asked.top_logprobs = 5;
  Sampler a(plain), b(asked);
  for (int i = 0; i < 200; ++i) {
    TokenLogprobs lp;
    BOOST_TEST_REQUIRE(a.next(kLogits) == b.next(kLogits, &lp));
    BOOST_TEST(lp.top.size() == 5u);
  }
}

// logit_bias: -100 bans the top id, +100 forces any id; sampled, the frequencies follow the
// biased distribution; ids outside the row are ignored.
BOOST_AUTO_TEST_CASE(logit_bias_moves_the_distribution) {
  SamplingOptions ban{0.0f, 0, 1.0f, 1};
  ban.logit_bias = {{1, -100.0f}, {99, 50.0f}, {-3, 50.0f}};
  Sampler banned(ban);
  BOOST_TEST(banned.next(kLogits) == 2);  // id 1 (3.0) banned: id 2 (2.9) is the largest
  SamplingOptions force{1.0f, 0, 1.0f, 2};
  force.logit_bias = {{3, 100.0f}};
  Sampler forced(force);
  for (int i = 0; i < 50; ++i) BOOST_TEST(forced.next(kLogits) == 3);
  // Bias 2 on id 0 (1.0 -> 3.0): ids 0 and 1 equally likely at temperature 1.
  SamplingOptions even{1.0f, 0, 1.0f, 3};
  even.logit_bias = {{0, 2.0f}};
  Sampler s(even);
  std::map<int32_t, int> seen;
  const int n = 6000;
  for (int i = 0; i < n; ++i) ++seen[s.next(kLogits)];
  std::vector<double> biased(kLogits.begin(), kLogits.end());
  biased[0] += 2.0;
  const auto p = reference_logprobs(biased, 1.0);
  for (int32_t id = 0; id < static_cast<int32_t>(kLogits.size()); ++id) {
    const double q = std::exp(p[id]);
    BOOST_TEST(std::abs(seen[id] - n * q) < 4 * std::sqrt(n * q * (1 - q)) + 1, "id " << id);
  }
}
