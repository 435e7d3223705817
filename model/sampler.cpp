#include "model/sampler.h"

#include "gpu/cpu/logit_rows.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
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

namespace {

// The largest weight t such that the weights >= t (of those at least `floor` and above 0) reach
// `need`, in count (by_mass false) or in mass. A radix select: a positive float's bits order as
// its value, so each pass buckets the candidates by the next bits, most significant first, walks
// the buckets from the top until `need` is reached, and keeps only the bucket it was reached in.
// After the last pass the candidates left share every bit: they are t. Linear in the row, no
// sort. A need the rounding of the sums leaves past the total gives the smallest candidate.
float select_threshold(std::span<const float> weights, float floor, double need, bool by_mass,
                       std::vector<float>& candidates) {
  candidates.clear();
  for (float w : weights)
    if (w > 0 && w >= floor) candidates.push_back(w);
  if (candidates.empty()) return floor;
  constexpr struct {
    int shift;
    uint32_t mask;
  } kPasses[] = {{20, 0x7ff}, {10, 0x3ff}, {0, 0x3ff}};  // bit 31 (the sign) is 0
  const auto bucket = [](float w, int shift, uint32_t mask) { return (std::bit_cast<uint32_t>(w) >> shift) & mask; };
  std::array<double, 0x800> sums;
  double above = 0;  // the count or mass of the candidates already known to be above t
  for (const auto& pass : kPasses) {
    sums.fill(0);
    for (float w : candidates) sums[bucket(w, pass.shift, pass.mask)] += by_mass ? static_cast<double>(w) : 1.0;
    uint32_t chosen = 0;
    for (uint32_t b = pass.mask + 1; b-- > 0;) {
      if (sums[b] == 0) continue;
      chosen = b;
      if (above + sums[b] >= need) break;
      above += sums[b];
    }
    std::erase_if(candidates, [&](float w) { return bucket(w, pass.shift, pass.mask) != chosen; });
  }
  return candidates.front();
}

}  // namespace

bool truncated_weights(std::span<const float> logits, const SamplingOptions& o, std::vector<float>& weights,
                       std::vector<float>& scratch) {
  const float peak = cpu::row_max(logits);
  if (!std::isfinite(peak)) return false;  // no finite logit, or an infinite one
  weights.resize(logits.size());
  cpu::exp_row(logits, peak, 1.0f / o.temperature, weights);  // the largest is 1
  float threshold = 0;
  if (o.top_k > 0) threshold = select_threshold(weights, 0, o.top_k, false, scratch);
  if (o.top_p < 1.0f) {
    double mass = 0;
    for (float w : weights) mass += w >= threshold ? w : 0;
    threshold = select_threshold(weights, threshold, static_cast<double>(o.top_p) * mass, true, scratch);
  }
  threshold = std::max(threshold, o.min_p);
  for (float& w : weights)
    if (w < threshold) w = 0;
  return true;
}

// The draw's point on the kept ids' cumulative mass, the ids taken in id order.
int32_t Sampler::sample(std::span<const float> logits) {
  if (!truncated_weights(logits, opt_, weights_, scratch_)) return argmax(logits);
  const double target = sample_draw(seed_, index_) * std::accumulate(weights_.begin(), weights_.end(), 0.0);
  double mass = 0;
  int32_t last = 0;
  for (size_t i = 0; i < weights_.size(); ++i) {
    if (weights_[i] == 0) continue;
    last = static_cast<int32_t>(i);
    if (target < (mass += weights_[i])) return last;
  }
  return last;  // the rounding of the sums left the target past the end
}

}  // namespace pio
