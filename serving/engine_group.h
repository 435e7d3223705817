// An engine group without actors: its runners (the text decoder and the vision encoder over
// shared weights, on the group's backend), the engine core (continuous batching over the text model),
// the vision encoder's queue, whose blocks are interleaved with text steps so that a large image
// never freezes the other streams, the adaptive token budget, and each request's output stream.
// The engine actor owns one and calls step() while it has work. Not thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "messages/pipeline.h"
#include "model/image/preprocessor_config.h"
#include "model/model_weights.h"
#include "model/text_model.h"
#include "model/tokenizer/tokenizer.h"
#include "model/vision_model.h"
#include "serving/engine_core.h"
#include "serving/output_stream.h"
#include "serving/token_budget.h"
#include "storage/tiered_cache.h"

namespace pio {

struct EngineGroupOptions {
  int64_t max_batch_tokens = 256;  // the budget's ceiling (and start)
  int64_t min_batch_tokens = 16;
  int64_t max_sequences = 32;
  double target_step_ms = 250;     // adaptive batching aims every step (vision piece included) at this
  std::string policy = "fcfs";
  double ageing_s = 10;
  // To preprocess images that arrive as files (a job from a front end in another process, or a
  // moved request); without it such a job fails.
  std::optional<PreprocessorConfig> preprocessor;
  // Where the vision tower's runner computes (--gpu-vision off: a CPU backend beside a device);
  // null: the text runner's backend. It must outlive the group.
  Backend* vision_backend = nullptr;
  // Partial offload (--gpu-layers): the text runner's first gpu_layers decoder layers on the
  // group's backend, the rest on host_backend (null or gpu_layers < 0: all on the backend).
  Backend* host_backend = nullptr;
  int gpu_layers = -1;
  // The text runner's split over `backend` (the group's) and host_backend.
  LayerSplit layer_split(Backend& backend) const { return {&backend, host_backend, gpu_layers}; }
};

class EngineGroup {
 public:
  // Throws std::invalid_argument for options that cannot schedule anything. store: the tiered
  // cache for vision embeddings (serving/vision_cache.h), or null for none. The group runs its
  // own runners over `weights` on `backend`; both must outlive it (other groups may share them).
  // kv: the KV storage (its block pool is the engine core's scheduler's).
  EngineGroup(const ModelWeights& weights, Backend& backend, std::shared_ptr<const Tokenizer> tokenizer,
              KvStorage& kv, const EngineGroupOptions& options, std::shared_ptr<TieredCache> store = nullptr);

  // Queues a job: its images go to the vision queue first. Throws ModelError or
  // std::invalid_argument when the job can never run (its prompt does not fit, a bad image).
  void add(EngineJob job, double now_s);
  // Ends a request wherever it is. Returns its final event ("cancelled"), or nothing if unknown.
  std::optional<StreamEvent> cancel(uint64_t id);

  // Memory pressure, from the supervisor: see EngineCore::preempt_one and set_admitting.
  std::optional<uint64_t> preempt_one();
  void set_admitting(bool admitting) { core_.set_admitting(admitting); }
  // Memory pressure: forgets the retained prefix blocks (KvBlockPool::drop_retained).
  void drop_retained_kv() { core_.pool().drop_retained(); }

  // KV replicas: see EngineCore::replicate; a job still in the vision queue starts once it reaches
  // the core. False for an unknown id or without a store.
  bool replicate(uint64_t id, bool copy = true);
  std::vector<KvBlocks> take_replica_blocks() { return core_.take_replica_blocks(); }

  // Runs a piece of the vision queue and one text step. Returns the events to send, in order;
  // a request's last event has final set. Throws DeviceLost as EngineCore::step does.
  std::vector<StreamEvent> step(double now_s);

  // Liveness: true when a step would advance some request (a job complete on arrival, a job in
  // the vision queue, a running sequence, or a waiting one while admission is open). The engine actor schedules a step
  // whenever this holds, so work queued always has a step coming; when it is false, only a
  // message (a job, a cancellation, admission reopened) can create work.
  bool has_work() const;
  EngineLoad load() const;
  const StepStats& last_step() const { return stats_; }

 private:
  struct Request {
    EngineJob job;
    OutputStream output;
    double arrival_s = 0;
    int64_t prompt_tokens = 0;
    int64_t cached_tokens = 0;  // of those, served from the prefix cache
    double first_token_s = -1;
    double vision_start_s = -1, vision_end_s = -1;
    std::vector<std::optional<ImageFeatures>> images{};  // per image, once known (cached or encoded)
    std::vector<size_t> encoding{};                      // the images the encoder runs on
    std::vector<PixelValues> encoder_input{};            // their pixels
    bool replicate = false;                              // told to replicate before it reached the core
  };
  // A moved request whose streamed ids already end it (a stop id or string, or max_tokens: its
  // worker was lost between its last token and its final event): the finish reason.
  static std::optional<std::string> resumed_complete(const EngineJob& job, const OutputStream& output);
  // Fills in the images the job brought from the cache or the cache has now; the indices left.
  std::vector<size_t> resolve_cached_images(Request& r);
  // An image that came as its file is preprocessed here, under the limits the front end used (the
  // same pixels). Throws ModelError for a file that does not decode, or an image with neither.
  void ensure_pixels(EngineJob& job, size_t image) const;
  // Stores the encoder's output per image and hands the job, all images known, to the core.
  void encoded(uint64_t id, const VisionOutput& out, double now_s);
  // Runs encoder blocks for about `budget_ms`; submits a job to the core once its images are
  // done, or adds its error event.
  void advance_vision(double budget_ms, double now_s, std::vector<StreamEvent>& events);
  void submit_to_core(uint64_t id, std::shared_ptr<const ImageFeatures> images, double now_s);
  // With nothing left to encode, a huge image's encoder buffers go back to the system.
  void release_idle_vision_buffers();
  StreamEvent final_event(Request& r, const std::string& reason, double now_s);

  const ModelWeights& weights_;
  Backend& backend_;  // the group's (a device's, or the CPU's): its memory is reported in load()
  TextModel text_;
  std::unique_ptr<VisionModel> vision_;  // none for a text-only checkpoint
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::shared_ptr<TieredCache> store_;
  EngineGroupOptions options_;
  EngineCore core_;
  TokenBudget budget_;
  std::unordered_map<uint64_t, Request> requests_;
  std::deque<uint64_t> vision_queue_;  // jobs waiting for their images, the front one encoding
  std::vector<std::pair<uint64_t, std::string>> finished_;  // complete on arrival: id, finish reason
  bool vision_started_ = false;
  // The vision encoder's latest cost per row of each kind of pass (VisionModel::Pass).
  std::array<double, static_cast<size_t>(VisionModel::Pass::done) + 1> ms_per_row_{};
  int64_t memory_preemptions_ = 0;     // since the last step
  StepStats stats_;
};

}  // namespace pio
