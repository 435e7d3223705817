// Continuous batching: at every step boundary, decides which sequences compute how many tokens
// (nano-vllm's Scheduler and vLLM's v1 scheduler are the models). Every running sequence that
// has finished its prompt decodes one token; the rest of the step's token budget goes to prefill
// chunks, first of sequences already mid-prompt, then of new ones admitted in the policy's order,
// so a long prompt never stalls the sequences that are decoding. The KV blocks are counted here
// as the engine's PagedKvCache will take them; when a decode finds no free block the policy's
// victim is preempted: its blocks are freed and it waits again, to be recomputed (prompt plus
// the tokens it had generated) when it is admitted again. Plain class, not thread-safe.
#pragma once

#include <cstdint>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "serving/scheduling_policy.h"

namespace pio {

struct StepItem {
  uint64_t id = 0;
  int64_t first = 0;     // index of the first token computed (tokens already in the KV cache)
  int64_t count = 0;     // tokens computed in this step
  bool sample = false;   // the chunk reaches the sequence's last known token: sample the next
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
  int64_t total_blocks = 0;        // the KV pool
};

class BatchScheduler {
 public:
  // Throws std::invalid_argument for limits that cannot schedule anything.
  BatchScheduler(BatchLimits limits, std::unique_ptr<SchedulingPolicy> policy);

  // Queues a request with its prompt length. Throws std::invalid_argument when the prompt plus
  // max_new_tokens could never fit the KV pool, or a count is not positive.
  void add(const QueuedRequest& request, int64_t prompt_tokens, int64_t max_new_tokens);

  // The next step's work, empty when nothing can run.
  StepPlan plan(double now_s);

  // Records that a planned step ran: chunks are in the KV cache, sampled sequences have one
  // token more. Returns the sequences that reached their max_new_tokens (now finished).
  std::vector<uint64_t> step_done(const StepPlan& plan);

  // Ends a sequence (stop token, cancellation, deadline) wherever it is; its blocks are free.
  void finish(uint64_t id);

  // Memory pressure: preempts the policy's victim among the running sequences (it waits again
  // and is recomputed when readmitted). Returns its id, or nothing when none runs.
  std::optional<uint64_t> preempt_one();
  // While paused, no waiting sequence is admitted (running ones go on).
  void set_admitting(bool admitting) { admitting_ = admitting; }
  bool admitting() const { return admitting_; }

  // Prefix caching: when a waiting sequence is admitted from scratch, probe(id) gives how many
  // of its leading tokens (whole blocks, fewer than it knows) are cached; it starts past them,
  // their blocks counted as taken. Without a probe every sequence starts at its first token.
  void set_prefix_probe(std::function<int64_t(uint64_t id)> probe) { probe_ = std::move(probe); }

  // Adaptive batching moves the budget; clamped to at least max_sequences.
  void set_max_batch_tokens(int64_t tokens);

  size_t waiting() const { return waiting_.size(); }
  size_t running() const { return running_.size(); }
  int64_t used_blocks() const { return used_blocks_; }
  int64_t max_batch_tokens() const { return limits_.max_batch_tokens; }

 private:
  struct Sequence {
    QueuedRequest request;
    int64_t known = 0;     // prompt plus generated tokens
    int64_t computed = 0;  // of those, in the KV cache
    int64_t generated = 0;
    int64_t max_new_tokens = 0;
    int64_t blocks = 0;    // KV blocks held (taken when a step is planned)
  };
  int64_t blocks_for(int64_t tokens) const { return (tokens + limits_.block_size - 1) / limits_.block_size; }
  int64_t free_blocks() const { return limits_.total_blocks - used_blocks_; }
  // The most tokens of s's pending ones that `budget` and the free blocks (less `reserve`) allow.
  int64_t chunk_for(const Sequence& s, int64_t budget, int64_t reserve) const;
  // Adds s's next `count` tokens to the plan and takes the blocks they need.
  void schedule(Sequence& s, int64_t count, StepPlan& plan);
  void preempt(size_t running_index, StepPlan& plan);
  // Admits waiting sequences in the policy's order while budget and blocks last.
  void admit(double now_s, int64_t& budget, StepPlan& plan);

  BatchLimits limits_;
  std::unique_ptr<SchedulingPolicy> policy_;
  std::vector<Sequence> waiting_;
  std::vector<Sequence> running_;
  int64_t used_blocks_ = 0;
  bool admitting_ = true;
  std::function<int64_t(uint64_t)> probe_;
};

}  // namespace pio
