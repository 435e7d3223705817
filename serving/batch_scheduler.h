// Continuous batching: at every step boundary, decides which sequences compute how many tokens
// (nano-vllm's Scheduler and vLLM's v1 scheduler are the models). Every running sequence that
// has finished its prompt decodes one token; the rest of the step's token budget goes to prefill
// chunks, first of sequences already mid-prompt, then of new ones admitted in the policy's order,
// so a long prompt never stalls the sequences that are decoding. The scheduler owns the KV block
// pool: a planned step's blocks are taken here, before the step, and the plan carries each
// item's block table (as vLLM's scheduler output does), so the forward pass allocates nothing.
// When a decode finds no free block the policy's victim is preempted: its blocks are freed and it
// waits again, to be recomputed (prompt plus the tokens it had generated) when it is admitted
// again. Plain class, not thread-safe.
#pragma once

#include <cstdint>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "model/kv_block_pool.h"
#include "serving/scheduling_policy.h"

namespace pio {

struct StepItem {
  uint64_t id = 0;
  int64_t first = 0;     // index of the first token computed (tokens already in the KV cache)
  int64_t count = 0;     // tokens computed in this step
  bool sample = false;   // the chunk reaches the sequence's last known token: sample the next
  SequenceId seq = -1;   // its sequence in the pool, which holds slots [0, first + count) now
  std::span<const int32_t> blocks;  // that sequence's block table; valid until the next plan
};

struct StepPlan {
  std::vector<StepItem> items;      // decodes first, then prefill chunks
  std::vector<uint64_t> preempted;  // sequences sent back to the queue; the engine frees their KV
  int64_t tokens() const;
};

struct BatchLimits {
  int64_t max_batch_tokens = 512;  // tokens computed per step (decodes count one each)
  int64_t max_sequences = 64;      // running at once; at most max_batch_tokens
  int64_t block_size = 16;         // KV slots per block
  int64_t total_blocks = 0;        // the KV pool (the scheduler's KvBlockPool has this many)
};

class BatchScheduler {
 public:
  // Throws std::invalid_argument for limits that cannot schedule anything.
  BatchScheduler(BatchLimits limits, std::unique_ptr<SchedulingPolicy> policy);

  // Queues a request with its prompt length. Throws std::invalid_argument when the prompt plus
  // max_new_tokens could never fit the KV pool, or a count is not positive.
  void add(const QueuedRequest& request, int64_t prompt_tokens, int64_t max_new_tokens);

  // The next step's work, empty when nothing can run; its blocks are taken from the pool.
  StepPlan plan(double now_s);

  // Records that a planned step ran (its blocks were taken by plan()): chunks are in the KV
  // cache, sampled sequences have one token more. Every plan is followed by its step_done, or by
  // finish() of the sequences whose step failed. Returns the sequences that reached their max_new_tokens (now finished).
  std::vector<uint64_t> step_done(const StepPlan& plan);

  // Ends a sequence (stop token, cancellation, deadline) wherever it is; its blocks go back to
  // the pool.
  void finish(uint64_t id);

  // Memory pressure: preempts the policy's victim among the running sequences (it waits again
  // and is recomputed when readmitted). Returns its id, or nothing when none runs.
  std::optional<uint64_t> preempt_one();
  // While paused, no waiting sequence is admitted (running ones go on).
  void set_admitting(bool admitting) { admitting_ = admitting; }
  bool admitting() const { return admitting_; }

  // Prefix caching: when a waiting sequence is admitted from scratch, attach(id, seq) puts its
  // cached leading blocks into its new, empty pool sequence (whole blocks, fewer tokens than it
  // knows); it starts past them. If it is not admitted after all, the sequence is released.
  // Without it every sequence starts at its first token.
  void set_prefix_attach(std::function<void(uint64_t id, SequenceId seq)> attach) { attach_ = std::move(attach); }

  // Adaptive batching moves the budget; clamped to at least max_sequences.
  void set_max_batch_tokens(int64_t tokens);

  size_t waiting() const { return waiting_.size(); }
  size_t running() const { return running_.size(); }
  // Blocks held by sequences (total less free: retained blocks count as free).
  int64_t used_blocks() const { return pool_.total_blocks() - pool_.free_blocks(); }
  KvBlockPool& pool() { return pool_; }
  const KvBlockPool& pool() const { return pool_; }
  int64_t max_batch_tokens() const { return limits_.max_batch_tokens; }
  // KV slots in all: the most a sequence's prompt plus new tokens may take.
  int64_t capacity_tokens() const { return limits_.total_blocks * limits_.block_size; }

 private:
  struct Sequence {
    QueuedRequest request;
    int64_t known = 0;     // prompt plus generated tokens
    int64_t computed = 0;  // of those, in the KV cache
    int64_t generated = 0;
    int64_t max_new_tokens = 0;
    SequenceId seq = -1;   // its KV blocks in the pool (taken when a step is planned), -1: none
  };
  static BatchLimits checked(BatchLimits limits);
  int64_t blocks_held(const Sequence& s) const;
  // The most tokens of s's pending ones that `budget` and the free blocks (less `reserve`) allow.
  int64_t chunk_for(const Sequence& s, int64_t budget, int64_t reserve) const;
  // Adds s's next `count` tokens to the plan and takes the blocks they need from the pool.
  void schedule(Sequence& s, int64_t count, StepPlan& plan);
  void preempt(size_t running_index, StepPlan& plan);
  // Admits waiting sequences in the policy's order while budget and blocks last.
  void admit(double now_s, int64_t& budget, StepPlan& plan);

  BatchLimits limits_;
  std::unique_ptr<SchedulingPolicy> policy_;
  KvBlockPool pool_;
  std::vector<Sequence> waiting_;
  std::vector<Sequence> running_;
  bool admitting_ = true;
  std::function<void(uint64_t, SequenceId)> attach_;
};

}  // namespace pio
