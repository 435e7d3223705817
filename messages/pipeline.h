// Messages inside a node's pipeline: a tokenized prompt, a preprocessed image, the job that
// crosses the router to an engine group (serialisable, so the group may live in another
// process), and what an engine group reports about its steps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/chat.h"
#include "messages/events.h"
#include "model/image/pixel_values.h"
#include "model/image/preprocess.h"

namespace pio {

// The tokenizer pool's answer: the chat template's ids (one placeholder per image).
struct PromptTokens {
  std::vector<int32_t> ids;
  int32_t images = 0;
};

// The preprocessor pool's answer for one image. With the vision cache on, cache_key names the
// image (serving/vision_cache.h); on a cache hit `features` holds the cached encode-image bytes
// and `pixels` is empty (preprocessing skipped).
struct PreparedImage {
  std::string cache_key;
  PixelValues pixels;
  std::string features;
  int64_t tokens = 0;  // the merged tokens the image takes in the prompt
  std::vector<uint8_t> file;  // the encoded image (empty on a cache hit): what crosses to a remote worker
  ImageLimits limits{0, 0};   // what it was preprocessed under
};

// Everything an engine group needs for one request; no pointer into the pipeline's memory.
struct EngineJob {
  uint64_t id = 0;
  std::string client_id;
  int32_t priority = 0;
  std::vector<int32_t> ids;             // with image placeholders
  std::vector<PixelValues> images;      // in prompt order (empty pixels for a cache hit)
  std::vector<std::string> image_keys;  // parallel to images: vision cache keys, or empty without a cache
  std::vector<std::string> image_features;  // parallel to images: cached encode-image bytes on a hit
  // Parallel to images: the encoded file (empty on a cache hit). A job for a worker in another
  // process carries these and its images' grids without their pixels (a 1280x720 photo is tens
  // of KB as a file, about 10 MB as float pixels); the engine group preprocesses them again
  // under image_limits.
  std::vector<std::vector<uint8_t>> image_files;
  ImageLimits image_limits{0, 0};
  SamplingOptions sampling;
  int32_t max_tokens = 256;
  bool clip_max_tokens = false;         // the client named no max_tokens: the engine lowers it to fit its KV cache
  std::vector<int32_t> stop_ids;        // the request's (the engine group adds the model's own)
  std::vector<std::string> stop;
  bool stream = true;
  bool show_special_tokens = false;
  StageTimings timings;                 // the stages before the engine
  // A request moved from a lost worker: the ids its stream already delivered. The engine
  // prefills the prompt plus these and generates from there (draw index resume_ids.size()).
  std::vector<int32_t> resume_ids;
  StructuredOutput structured;          // the request's (ChatRequest::structured)
};

// Full KV blocks of one job, copied from the worker that computes it to its replica worker (through
// the front end, serving/kv_replicas.h), so that the job can resume there without computing them
// again. keys[i] is block i's tiered-cache key ("kv/" + its prefix hash, serving/prefix_keys.h),
// blocks[i] its bytes (model/kv_cache.h export_block); they land in the replica's tiered cache.
struct KvBlocks {
  uint64_t job = 0;  // the placement id of the job they belong to
  std::vector<std::string> keys;
  std::vector<std::string> blocks;
};

// One engine step, for the profiler.
struct StepStats {
  int64_t sequences = 0;
  int64_t prefill_tokens = 0;
  int64_t decode_tokens = 0;
  int64_t token_budget = 0;
  int64_t vision_rows = 0;  // vision encoder work run before the step, in VisionModel::advance rows
  double ms = 0;
  int64_t preempted = 0;
};

// An engine group's state, for the supervisor and the profiler.
struct EngineLoad {
  int64_t running = 0;
  int64_t waiting = 0;       // admitted to the group, not yet running (vision included)
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_bytes_per_block = 0;  // in host memory (KV layers on a device do not count)
  int64_t kv_blocks_touched = 0;  // the pool's high-water mark (resident pages)
  int64_t image_bytes = 0;        // pixels of the images waiting for or in the vision encoder
  double step_ms = 0;             // its last step's time (0 before its first)
  int64_t device_memory_used = 0;   // its CUDA device's memory in use and in all, bytes (0 on the CPU)
  int64_t device_memory_total = 0;
  double device_transfer_s = 0;     // its device's upload/download copy time since start
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, PromptTokens& x) {
  return f(caf::meta::type_name("pio::PromptTokens"), x.ids, x.images);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, PixelValues& x) {
  return f(caf::meta::type_name("pio::PixelValues"), x.grid_t, x.grid_h, x.grid_w, x.channels, x.temporal_patch_size,
           x.patch_size, x.data);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ImageLimits& x) {
  return f(caf::meta::type_name("pio::ImageLimits"), x.min_pixels, x.max_pixels, x.max_decoded_pixels);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, PreparedImage& x) {
  return f(caf::meta::type_name("pio::PreparedImage"), x.cache_key, x.pixels, x.features, x.tokens, x.file, x.limits);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, EngineJob& x) {
  return f(caf::meta::type_name("pio::EngineJob"), x.id, x.client_id, x.priority, x.ids, x.images, x.image_keys,
           x.image_features, x.image_files, x.image_limits, x.sampling, x.max_tokens, x.clip_max_tokens, x.stop_ids, x.stop, x.stream,
           x.show_special_tokens, x.timings, x.resume_ids, x.structured);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, KvBlocks& x) {
  return f(caf::meta::type_name("pio::KvBlocks"), x.job, x.keys, x.blocks);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, StepStats& x) {
  return f(caf::meta::type_name("pio::StepStats"), x.sequences, x.prefill_tokens, x.decode_tokens, x.token_budget,
           x.vision_rows, x.ms, x.preempted);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, EngineLoad& x) {
  return f(caf::meta::type_name("pio::EngineLoad"), x.running, x.waiting, x.kv_blocks_used, x.kv_blocks_total,
           x.kv_bytes_per_block, x.kv_blocks_touched, x.image_bytes, x.step_ms, x.device_memory_used,
           x.device_memory_total, x.device_transfer_s);
}

}  // namespace pio
