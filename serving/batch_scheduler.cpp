#include "serving/batch_scheduler.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace pio {

int64_t StepPlan::tokens() const {
  int64_t n = 0;
  for (const auto& item : items) n += item.count;
  return n;
}

BatchLimits BatchScheduler::checked(BatchLimits limits) {
  if (limits.block_size <= 0 || limits.block_size > INT32_MAX || limits.total_blocks <= 0 ||
      limits.max_sequences <= 0 || limits.max_batch_tokens < limits.max_sequences)
    throw std::invalid_argument("batch scheduler: limits must be positive and max_batch_tokens >= max_sequences");
  return limits;
}

BatchScheduler::BatchScheduler(BatchLimits limits, std::unique_ptr<SchedulingPolicy> policy)
    : limits_(checked(limits)),
      policy_(std::move(policy)),
      pool_(limits_.total_blocks, static_cast<int>(limits_.block_size)) {
  if (!policy_) throw std::invalid_argument("batch scheduler: no policy");
}

int64_t BatchScheduler::blocks_held(const Sequence& s) const {
  return s.seq < 0 ? 0 : static_cast<int64_t>(pool_.block_table(s.seq).size());
}

void BatchScheduler::add(const QueuedRequest& request, int64_t prompt_tokens, int64_t max_new_tokens) {
  if (prompt_tokens <= 0 || max_new_tokens <= 0)
    throw std::invalid_argument("batch scheduler: prompt and max_new_tokens must be positive");
  if (prompt_tokens > capacity_tokens() - max_new_tokens)
    throw std::invalid_argument(std::to_string(prompt_tokens) + " prompt tokens plus " + std::to_string(max_new_tokens) +
                                " new ones exceed the KV cache's " + std::to_string(capacity_tokens()) +
                                " slots: ask for fewer tokens or send a shorter prompt");
  waiting_.push_back({request, prompt_tokens, 0, 0, max_new_tokens, -1});
}

int64_t BatchScheduler::chunk_for(const Sequence& s, int64_t budget, int64_t reserve) const {
  const int64_t room = (blocks_held(s) + pool_.free_blocks() - reserve) * limits_.block_size - s.computed;
  return std::max<int64_t>(0, std::min({s.known - s.computed, budget, room}));
}

void BatchScheduler::schedule(Sequence& s, int64_t count, StepPlan& plan) {
  // chunk_for and the decode check made room; the pool's sequence holds exactly the computed tokens.
  if (pool_.append(s.seq, count) != s.computed)
    throw std::logic_error("batch scheduler: a sequence's KV blocks disagree with its computed tokens");
  plan.items.push_back({s.request.id, s.computed, count, s.computed + count == s.known, s.seq, {}});
}

void BatchScheduler::preempt(size_t index, StepPlan& plan) {
  Sequence s = std::move(running_[index]);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  std::erase_if(plan.items, [&](const StepItem& item) { return item.id == s.request.id; });
  pool_.release(s.seq);
  s.seq = -1;
  s.computed = 0;  // recomputed from the start (prompt plus generated tokens) when readmitted
  plan.preempted.push_back(s.request.id);
  waiting_.push_back(std::move(s));
}

StepPlan BatchScheduler::plan(double now_s) {
  StepPlan plan;
  int64_t budget = limits_.max_batch_tokens;
  // Decodes: every sequence past its prompt computes its last sampled token.
  for (size_t i = 0; i < running_.size();) {
    Sequence& s = running_[i];
    if (s.known - s.computed != 1) {
      ++i;
      continue;
    }
    if (pool_.blocks_needed(s.known) > blocks_held(s) + pool_.free_blocks()) {
      std::vector<QueuedRequest> requests;
      for (const auto& r : running_) requests.push_back(r.request);
      const size_t victim = policy_->victim(requests);
      preempt(victim, plan);
      if (victim < i) --i;
      continue;  // retry this index: either s again with more free blocks, or the next one
    }
    schedule(s, 1, plan);
    --budget;
    ++i;
  }
  // Prefill chunks of sequences already mid-prompt, in admission order.
  for (auto& s : running_) {
    if (s.known - s.computed <= 1) continue;
    if (const int64_t n = chunk_for(s, budget, 0); n > 0) {
      schedule(s, n, plan);
      budget -= n;
    }
  }
  admit(now_s, budget, plan);
  for (auto& item : plan.items) item.blocks = pool_.block_table(item.seq);  // final: no block changes after this
  return plan;
}

void BatchScheduler::admit(double now_s, int64_t& budget, StepPlan& plan) {
  std::vector<QueuedRequest> requests;
  while (admitting_ && budget > 0 && !waiting_.empty() && static_cast<int64_t>(running_.size()) < limits_.max_sequences) {
    requests.clear();
    for (const auto& w : waiting_) requests.push_back(w.request);
    const size_t pick = policy_->next(requests, now_s);
    // A sequence preempted by this plan waits for the next one (its KV is freed first).
    if (std::count(plan.preempted.begin(), plan.preempted.end(), waiting_[pick].request.id)) break;
    // Cached leading blocks are attached to its new pool sequence; it computes the rest.
    Sequence& w = waiting_[pick];
    w.seq = pool_.add_sequence();
    if (attach_) attach_(w.request.id, w.seq);
    w.computed = pool_.length(w.seq);
    if (w.computed >= w.known) throw std::logic_error("batch scheduler: a cached prefix must leave a token to compute");
    // Keep a block per running sequence free so their decodes are not preempted at once.
    const int64_t n = chunk_for(w, budget, static_cast<int64_t>(running_.size()));
    if (n <= 0) {
      pool_.release(w.seq);
      w.seq = -1;
      w.computed = 0;
      break;
    }
    policy_->admitted(waiting_[pick].request);
    running_.push_back(std::move(waiting_[pick]));
    waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(pick));
    schedule(running_.back(), n, plan);
    budget -= n;
  }
}

std::vector<uint64_t> BatchScheduler::step_done(const StepPlan& plan) {
  std::vector<uint64_t> finished;
  for (const auto& item : plan.items) {
    const auto it = std::find_if(running_.begin(), running_.end(), [&](const Sequence& s) { return s.request.id == item.id; });
    if (it == running_.end() || it->computed != item.first) continue;  // finished or preempted since
    it->computed += item.count;
    if (!item.sample) continue;
    ++it->known;
    if (++it->generated >= it->max_new_tokens) finished.push_back(item.id);
  }
  for (uint64_t id : finished) finish(id);
  return finished;
}

void BatchScheduler::finish(uint64_t id) {
  const auto same = [&](const Sequence& s) { return s.request.id == id; };
  if (const auto it = std::find_if(running_.begin(), running_.end(), same); it != running_.end()) {
    pool_.release(it->seq);
    running_.erase(it);
  }
  std::erase_if(waiting_, same);
}

std::optional<uint64_t> BatchScheduler::preempt_one() {
  if (running_.empty()) return std::nullopt;
  std::vector<QueuedRequest> requests;
  for (const auto& r : running_) requests.push_back(r.request);
  StepPlan none;
  preempt(policy_->victim(requests), none);
  return none.preempted.front();
}

void BatchScheduler::set_max_batch_tokens(int64_t tokens) {
  limits_.max_batch_tokens = std::max(tokens, limits_.max_sequences);
}

}  // namespace pio
