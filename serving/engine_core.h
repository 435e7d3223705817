// One engine group's compute, without actors: requests are queued in a BatchScheduler and every
// step() runs the scheduler's plan (prefill chunks and decode rows of many sequences) as one
// batched forward pass of the text model over the paged KV cache, then samples the sequences
// whose chunk reached their last known token. The scheduler owns the KV block pool and plans
// each step's block tables; the KV storage (the bytes) is the engine group's, allocated through
// the backend, and the forward pass only writes the blocks the plan names. Preempted sequences lose their KV blocks and are
// recomputed (prompt plus generated tokens) when readmitted, so their output is unchanged.
// Not thread-safe: the engine actor owns it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "messages/chat.h"
#include "messages/pipeline.h"
#include "model/config.h"
#include "model/image_features.h"
#include "model/kv_block_pool.h"
#include "model/kv_storage.h"
#include "model/prompt.h"
#include "model/sampler.h"
#include "model/text_model.h"
#include "model/tokenizer/tokenizer.h"
#include "serving/batch_scheduler.h"
#include "serving/grammar_matcher.h"
#include "serving/prefix_hash.h"
#include "storage/tiered_cache.h"

namespace pio {

struct EngineRequest {
  QueuedRequest queue;                           // id, client, priority, arrival
  std::vector<int32_t> ids;                      // the chat's ids, image placeholders not expanded
  std::shared_ptr<const ImageFeatures> images;   // the images' features in prompt order, or null
  SamplingOptions sampling;
  int32_t max_tokens = 256;
  bool clip_max_tokens = false;                  // a default max_tokens: lowered to what the KV cache holds
  std::vector<int32_t> stop_ids;                 // generation ends after emitting one of these
  std::vector<std::string> image_keys;           // the images' vision cache keys (prefix hashes), if any
  std::vector<int32_t> resumed;                  // ids generated elsewhere already (a moved request)
  StructuredOutput structured;                   // the output's grammar (messages/chat.h)
};

enum class FinishReason : uint8_t { none, stop, length, cancelled, error };
const char* finish_reason_name(FinishReason r);

struct TokenEvent {
  uint64_t id = 0;
  int32_t token = -1;                       // -1 with FinishReason::error
  FinishReason finish = FinishReason::none; // set on a sequence's last event
  int64_t cached_tokens = 0;                // prompt tokens its first admission found in the prefix cache
  std::optional<TokenLogprobs> logprobs = std::nullopt;  // when the request's sampling asks for them
};

struct StepReport {
  int64_t sequences = 0;  // sequences computed in the step
  int64_t prefill_tokens = 0;
  int64_t decode_tokens = 0;
  double ms = 0;          // forward pass and sampling
  std::vector<uint64_t> preempted;
  std::string error;      // set when the forward pass failed (its sequences ended with an error)
};

class EngineCore {
 public:
  // id_limit: only ids below it are sampled (the tokenizer's vocabulary inside a padded
  // embedding); 0: all. The storage's block size and count size the scheduler's block pool.
  // With a store, prefix caching is on: full blocks are registered by hash (prefix_hash.h) and
  // put in the store ("kv/" keys, not kept hot; the store's writer thread writes them to disk, so
  // a step never waits for the disk), and a new sequence starts with the longest run of its
  // leading blocks found in the pool or in the store's memory: the engine never reads the disk,
  // so blocks on disk count once the job's blocks were prefetched (serving/prefix_keys.h).
  EngineCore(TextModel& text, const ModelConfig& config, KvStorage& kv, BatchLimits limits,
             std::unique_ptr<SchedulingPolicy> policy, int32_t id_limit, std::shared_ptr<TieredCache> store = nullptr);

  // Structured outputs: requests with a structured output are constrained over this tokenizer's
  // vocabulary (its prefix trie is built at the first such request). Without it they are refused.
  void enable_structured_outputs(std::shared_ptr<const Tokenizer> tokenizer) { tokenizer_ = std::move(tokenizer); }

  // Expands the prompt's images and queues it; returns the prompt's length in tokens. A request
  // with `resumed` ids prefills them after the prompt and generates from there, as a preempted
  // sequence does when readmitted (they count towards max_tokens). A request with a
  // structured.schema samples only tokens that keep its output a prefix of the text its
  // structured output allows, and stops when that is complete (grammar_matcher.h). Throws
  // ModelError for features that do not fit the prompt, std::invalid_argument for a request
  // that can never fit the KV cache or a duplicate id, SchemaError for a schema it cannot
  // follow, std::invalid_argument for resumed ids the schema does not allow.
  int64_t submit(EngineRequest request);
  // Ends a request wherever it is and frees its KV blocks. False when the id is unknown.
  bool cancel(uint64_t id);

  // KV replicas (serving/kv_replicas.h): from the next step on, every full KV block of request
  // `id`, from its first, is copied for take_replica_blocks() at the end of each step it runs
  // in, at most replica_bytes_per_step of blocks per step in all (a new replica catches up over
  // a few steps instead of getting a whole KV pool at once). A second call starts over from the
  // first block (a new replica); copy false stops the copies. False (nothing changes) for an
  // unknown id or without a store: blocks are named by their prefix hashes, which only prefix
  // caching keeps.
  bool replicate(uint64_t id, bool copy = true);
  static constexpr int64_t kReplicaBytesPerStep = int64_t{32} << 20;
  void set_replica_bytes_per_step(int64_t bytes) { replica_bytes_per_step_ = bytes; }
  // The blocks copied since the last call, one KvBlocks per request (its id in `job`).
  std::vector<KvBlocks> take_replica_blocks();

  // Memory pressure: preempts the policy's victim (its KV blocks are freed now; it is recomputed
  // when readmitted, its output unchanged) and returns its id, or nothing when none runs.
  std::optional<uint64_t> preempt_one();
  void set_admitting(bool admitting) { scheduler_.set_admitting(admitting); }
  bool admitting() const { return scheduler_.admitting(); }

  // Runs one step at monotonic time now_s; returns the sampled tokens in plan order, and an
  // error event for each sequence of a step whose forward pass failed. Throws DeviceLost when the
  // backend's device failed: the core is then unusable, and its requests go elsewhere whole.
  std::vector<TokenEvent> step(double now_s);

  bool idle() const { return active_.empty(); }
  size_t running() const { return scheduler_.running(); }
  size_t waiting() const { return scheduler_.waiting(); }
  const StepReport& last_step() const { return report_; }
  BatchScheduler& scheduler() { return scheduler_; }
  // The KV block pool (the scheduler's) and the storage of its blocks.
  KvBlockPool& pool() { return scheduler_.pool(); }
  const KvBlockPool& pool() const { return scheduler_.pool(); }
  const KvStorage& storage() const { return kv_; }

 private:
  struct Active {
    EngineRequest request;
    PreparedPrompt known;  // the prompt, then every generated token appended (ids, positions)
    Sampler sampler;
    SequenceId seq = -1;   // its sequence in the scheduler's pool, -1 while it holds none
    int32_t generated = 0;
    PrefixHasher hasher;   // its blocks' hashes (prefix caching)
    int64_t registered = 0;      // its KV sequence's blocks registered and stored
    int64_t cached_tokens = -1;  // found in the prefix cache at its first admission
    std::shared_ptr<GrammarMasks> grammar;   // structured output, or null
    std::optional<GrammarMatcher> matcher;   // its output's place in the grammar
    bool replicate = false;      // its full blocks are copied for a replica worker...
    int64_t replicated = 0;      // ...and this many leading ones were (kept across a preemption: same keys)
  };
  // Prefix caching: attaching the longest run of a request's leading blocks found in the pool or
  // in the store's memory to its new pool sequence (the scheduler's attach, at admission);
  // registering and storing the blocks a step filled.
  void attach_prefix(uint64_t id, SequenceId seq);
  void keep_full_blocks(Active& a);
  // Copies a's registered blocks past those already copied, when it is replicated.
  void copy_for_replica(Active& a);
  void release_kv(Active& a);
  void end(uint64_t id);
  // Samples from one logits row for an item that reached its last known token.
  TokenEvent sample(Active& a, std::span<const float> row);
  // The grammar of a structured output over the vocabulary (compiled once per output format).
  std::shared_ptr<GrammarMasks> grammar_for(const StructuredOutput& format);
  // The row with the ids a's grammar does not allow next at -inf (its stop ids allowed once the
  // output is complete).
  std::span<const float> constrain(Active& a, std::span<const float> row);

  TextModel& text_;
  const ModelConfig& config_;
  KvStorage& kv_;
  std::shared_ptr<TieredCache> store_;
  BatchScheduler scheduler_;
  int64_t candidates_;
  std::unordered_map<uint64_t, Active> active_;
  StepReport report_;
  std::shared_ptr<const Tokenizer> tokenizer_;         // structured outputs' vocabulary source
  std::shared_ptr<const TokenVocabulary> vocabulary_;  // built from it at the first use
  std::unordered_map<std::string, std::shared_ptr<GrammarMasks>> grammars_;  // by prefix, schema, suffix
  std::vector<float> masked_;                          // constrain()'s row
  std::map<uint64_t, KvBlocks> replica_blocks_;        // copied since take_replica_blocks(), by request
  int64_t replica_bytes_per_step_ = kReplicaBytesPerStep;
  int64_t copy_budget_ = 0;                            // blocks that may still be copied in this step
};

}  // namespace pio
