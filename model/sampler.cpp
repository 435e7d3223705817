#include "model/sampler.h"

#include "gpu/cpu/logit_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>

namespace pio {
namespace {

// Sebastiano Vigna's splitmix64 finaliser: every input bit moves every output bit.
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t fresh_seed() {
  std::random_device device;
  const uint64_t bits = (uint64_t{device()} << 32) ^ device();
  return bits % kFreshSeedLimit;
}

double sample_draw(uint64_t seed, uint64_t index) {
  return static_cast<double>(splitmix64(splitmix64(seed) ^ index) >> 11) * 0x1.0p-53;
}

int32_t argmax(std::span<const float> logits) {
  // Two passes: the largest value, then its first index.
  const float best = cpu::row_max(logits);
  const auto it = std::find(logits.begin(), logits.end(), best);
  return it == logits.end() ? 0 : static_cast<int32_t>(it - logits.begin());
}

float penalised_logit(float logit, bool in_prompt, int32_t count, const SamplingOptions& o) {
  if (in_prompt || count > 0) logit = logit > 0 ? logit / o.repetition_penalty : logit * o.repetition_penalty;
  if (count > 0) logit -= o.presence_penalty + o.frequency_penalty * static_cast<float>(count);
  return logit;
}

Sampler::Sampler(const SamplingOptions& options, std::span<const int32_t> prompt, std::span<const int32_t> generated)
    : opt_(options), seed_(options.seed ? *options.seed : fresh_seed()), index_(generated.size()) {
  if (opt_.has_penalties()) {
    prompt_ids_.assign(prompt.begin(), prompt.end());
    std::sort(prompt_ids_.begin(), prompt_ids_.end());
    prompt_ids_.erase(std::unique(prompt_ids_.begin(), prompt_ids_.end()), prompt_ids_.end());
    for (int32_t id : generated) ++generated_[id];
  }
}

int32_t Sampler::next(std::span<const float> logits, TokenLogprobs* logprobs) {
  const std::span<const float> row = opt_.processes_logits() ? processed(logits) : logits;
  const int32_t id = opt_.temperature <= 0.0f ? argmax(row) : sample(row);
  if (logprobs)
    *logprobs = log_probabilities(row, opt_.temperature <= 0.0f ? 1.0f : opt_.temperature, id, opt_.top_logprobs);
  if (opt_.has_penalties()) ++generated_[id];
  ++index_;
  return id;
}

// Only the biased ids and the ids seen so far change, so the copy is the only per-vocabulary cost.
std::span<const float> Sampler::processed(std::span<const float> logits) {
  work_.assign(logits.begin(), logits.end());
  const auto n = static_cast<int32_t>(logits.size());
  for (const LogitBias& b : opt_.logit_bias)
    if (b.id >= 0 && b.id < n) work_[static_cast<size_t>(b.id)] += b.bias;
  for (int32_t id : prompt_ids_) {
    if (id < 0 || id >= n || generated_.count(id)) continue;
    work_[static_cast<size_t>(id)] = penalised_logit(work_[static_cast<size_t>(id)], true, 0, opt_);
  }
  for (const auto& [id, count] : generated_) {
    if (id < 0 || id >= n) continue;
    const bool in_prompt = std::binary_search(prompt_ids_.begin(), prompt_ids_.end(), id);
    work_[static_cast<size_t>(id)] = penalised_logit(work_[static_cast<size_t>(id)], in_prompt, count, opt_);
  }
  return work_;
}

TokenLogprobs log_probabilities(std::span<const float> logits, float temperature, int32_t chosen, int32_t top) {
  const auto n = static_cast<int32_t>(logits.size());
  if (chosen < 0 || chosen >= n) throw std::invalid_argument("log_probabilities: the chosen id is outside the row");
  const double inv_t = 1.0 / static_cast<double>(temperature);
  const float peak = cpu::row_max(logits);
  const double log_sum = std::log(cpu::exp_sum(logits, peak, static_cast<float>(inv_t)));
  const auto logprob = [&](int32_t id) {
    const double x = logits[static_cast<size_t>(id)];
    return static_cast<float>(std::isnan(x) ? -std::numeric_limits<double>::infinity() : (x - peak) * inv_t - log_sum);
  };
  TokenLogprobs out{{chosen, logprob(chosen)}, {}};
  // The top ids by one scan: a row is a whole vocabulary, `top` at most a few dozen. Ids come
  // in ascending order, so a newcomer must beat the last kept one strictly (NaNs never do).
  const auto better = [&](int32_t a, int32_t b) {
    return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
           (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
  };
  std::vector<int32_t> best;
  const auto k = static_cast<size_t>(std::clamp(top, 0, n));
  float cut = -std::numeric_limits<float>::infinity();  // the last kept logit, once k are kept
  // Blocks of 16 whose largest value cannot enter (nearly all, once k are kept) are skipped.
  constexpr int32_t kBlock = 16;
  for (int32_t start = 0; start < n && k > 0; start += kBlock) {
    const int32_t end = std::min(n, start + kBlock);
    if (best.size() == k && !(cpu::row_max(logits.subspan(static_cast<size_t>(start), static_cast<size_t>(end - start))) > cut))
      continue;
    for (int32_t id = start; id < end; ++id) {
      const float x = logits[static_cast<size_t>(id)];
      if (best.size() == k ? !(x > cut) : std::isnan(x)) continue;
      if (best.size() == k) best.pop_back();
      best.insert(std::upper_bound(best.begin(), best.end(), id, better), id);
      if (best.size() == k) cut = logits[static_cast<size_t>(best.back())];
    }
  }
  for (int32_t id : best) out.top.push_back({id, logprob(id)});
  return out;
}

int32_t Sampler::sample(std::span<const float> logits) {
  const auto n = static_cast<int32_t>(logits.size());
  const int32_t k = opt_.top_k > 0 ? std::min(opt_.top_k, n) : n;
  const auto by_logit = [&](int32_t a, int32_t b) { return logits[a] > logits[b]; };
  order_.resize(static_cast<size_t>(n));
  std::iota(order_.begin(), order_.end(), 0);
  // Top-p and min-p need the survivors in order; top-k alone only needs to know which they are.
  // Either way the first candidate is the largest logit (the softmax's shift).
  const bool ordered = opt_.top_p < 1.0f || opt_.min_p > 0.0f;
  if (ordered) {
    std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), by_logit);
  } else {
    if (k < n) std::nth_element(order_.begin(), order_.begin() + k - 1, order_.end(), by_logit);
    std::iter_swap(order_.begin(), std::min_element(order_.begin(), order_.begin() + k, by_logit));
  }
  probs_.resize(static_cast<size_t>(k));
  const double top = logits[order_[0]];
  double sum = 0;
  for (int32_t i = 0; i < k; ++i) sum += probs_[i] = std::exp((logits[order_[i]] - top) / opt_.temperature);
  // Top-p: keep the smallest prefix whose mass reaches top_p (always at least one token).
  int32_t keep = k;
  if (opt_.top_p < 1.0f) {
    double mass = 0;
    for (int32_t i = 0; i < k; ++i) {
      mass += probs_[i] / sum;
      if (mass >= opt_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  // Min-p: of those, the ids at least min_p times as likely as the top one (probs_[0] is 1).
  if (opt_.min_p > 0.0f) {
    int32_t above = 1;
    while (above < keep && probs_[above] >= opt_.min_p) ++above;
    keep = above;
  }
  // The draw's point on the kept ids' cumulative mass.
  const double target = sample_draw(seed_, index_) * std::accumulate(probs_.begin(), probs_.begin() + keep, 0.0);
  double mass = 0;
  for (int32_t i = 0; i < keep - 1; ++i)
    if (target < (mass += probs_[i])) return order_[static_cast<size_t>(i)];
  return order_[static_cast<size_t>(keep - 1)];
}

}  // namespace pio
