// The front end's request bookkeeping, without actors: the in-flight table from a request's
// arrival to its final event, the EngineJob assembled from its two halves (the tokenizer's ids
// and the preprocessed images), where the job is placed (each placement has an id of its own, so
// that a request moved off a lost worker never takes events from its old placement), the ids its
// stream has delivered (where a moved request resumes) and its final timings. The supervisor
// actor wraps one. Plain class, not thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "messages/chat.h"
#include "messages/events.h"
#include "messages/pipeline.h"

namespace pio {

// One request from arrival to its final event.
struct InFlight {
  ChatRequest request;
  double arrival_s = 0;
  double deadline_s = std::numeric_limits<double>::infinity();
  double started_s = -1;       // admitted into the pipeline
  int pending = 0;             // tokenize and preprocess answers still outstanding
  PromptTokens tokens;
  std::vector<PreparedImage> images;
  StageTimings timings;
  std::optional<EngineJob> job;  // once assembled: kept to be placed again if its worker is lost
  uint64_t placement = 0;        // the id its job carries at an engine (0: at none)
  int placements = 0;            // how often it was placed (1: never moved)
  std::vector<int32_t> streamed; // ids received from its engines, in order
  double last_event_s = -1;      // for inter-token latency
};

// Frees the pixels of the job's images that have their file (their grids stay): what a worker in
// another process gets, and what the front end keeps to move a request.
void drop_pixels_with_files(EngineJob& job);

class RequestTable {
 public:
  // context: the model's max_position_embeddings (0: no limit).
  explicit RequestTable(int64_t context) : context_(context) {}

  // A new request at monotonic time now_s; returns its id (1, 2, ...). deadline_ms > 0 sets its deadline.
  uint64_t add(ChatRequest request, double now_s);
  // An id for a request refused before it entered the table (ids stay unique).
  uint64_t refused_id() { return next_id_++; }
  InFlight* find(uint64_t id);
  const std::unordered_map<uint64_t, InFlight>& all() const { return requests_; }
  size_t size() const { return requests_.size(); }
  void erase(uint64_t id);

  // The pipeline starts: one tokenize answer and one per image are awaited. Returns the images.
  size_t start(uint64_t id, double now_s);
  // The halves arrive; each returns true when it was the last one awaited.
  bool tokens_done(uint64_t id, PromptTokens tokens, double now_s);
  bool image_done(uint64_t id, size_t index, PreparedImage image, double now_s);

  // Both halves in: the job is assembled and kept in the request's record (the images' pixels
  // and files move into it); or the context refusal's message.
  std::optional<std::string> assemble(uint64_t id);

  // Places the request's job (again): a new placement id; the copy to send carries it, and the
  // ids already streamed as resume_ids. The first placement takes the images' pixels; the table
  // keeps their files and grids, so a moved request's worker preprocesses the files again.
  // Nothing when the request has no job.
  std::optional<EngineJob> place(uint64_t id);
  // The request a placement belongs to while that placement is current.
  std::optional<uint64_t> request_of_placement(uint64_t placement) const;
  // The request's job left its engine (ended there, or the engine was lost).
  void unplace(uint64_t id);

  // An engine's event for `placement`: nothing when the placement is stale (its request ended or
  // moved: the caller cancels it at its sender). Otherwise its request id (the event is
  // renumbered to it), with the ids recorded and the first token's TTFT set. `itl_ms` gets the
  // gap since the request's previous token event, or -1.
  std::optional<uint64_t> engine_event(StreamEvent& e, double now_s, double& itl_ms);

  // Requests whose deadline passed.
  std::vector<uint64_t> late(double now_s) const;

  // The final event's timings and seed, from the request's record (call before erase).
  void finish(uint64_t id, StreamEvent& e, double now_s) const;

 private:
  int64_t context_;
  uint64_t next_id_ = 1;
  uint64_t next_placement_ = uint64_t{1} << 40;  // apart from request ids, never mistaken for one
  std::unordered_map<uint64_t, InFlight> requests_;
  std::unordered_map<uint64_t, uint64_t> placements_;  // current placement id -> request id
};

}  // namespace pio
