#include "serving/engine_group.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "gpu/backend_error.h"
#include "model/errors.h"
#include "serving/vision_cache.h"

namespace pio {
namespace {

// Patch rows the vision encoder's work buffers keep between encodes (a 1024x1024 image's).
constexpr int64_t kVisionRowsKept = 4096;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

EngineGroup::EngineGroup(const ModelWeights& weights, Backend& backend, std::shared_ptr<const Tokenizer> tokenizer,
                         KvStorage& kv, const EngineGroupOptions& options, std::shared_ptr<TieredCache> store)
    : weights_(weights),
      backend_(backend),
      text_(weights, options.layer_split(backend)),
      vision_(weights.has_vision()
                  ? std::make_unique<VisionModel>(weights, options.vision_backend ? *options.vision_backend : backend)
                  : nullptr),
      tokenizer_(std::move(tokenizer)),
      store_(std::move(store)),
      options_(options),
      core_(text_, weights.config(), kv, {options.max_batch_tokens, options.max_sequences},
            make_policy(options.policy, options.ageing_s), static_cast<int32_t>(tokenizer_->vocab_size()), store_),
      budget_(options.target_step_ms, std::max(options.min_batch_tokens, options.max_sequences),
              std::max(options.max_batch_tokens, options.max_sequences),
              std::max(options.max_batch_tokens, options.max_sequences)) {
  core_.enable_structured_outputs(tokenizer_);
}

void EngineGroup::add(EngineJob job, double now_s) {
  const uint64_t id = job.id;
  if (requests_.count(id)) throw std::invalid_argument("request id " + std::to_string(id) + " is already queued");
  if (!job.images.empty() && !vision_)
    throw ModelError("this checkpoint has no vision tower: it cannot take images");
  OutputStream output(id, *tokenizer_, job.show_special_tokens, job.stop, job.stream);
  output.resume(job.resume_ids);
  const auto& model_stops = weights_.stop_ids();
  job.stop_ids.insert(job.stop_ids.end(), model_stops.begin(), model_stops.end());
  const bool has_images = !job.images.empty();
  const std::optional<std::string> complete = resumed_complete(job, output);
  requests_.emplace(id, Request{std::move(job), std::move(output), now_s});
  if (complete) {  // it ends at the next step, with nothing to compute
    finished_.emplace_back(id, *complete);
    return;
  }
  if (has_images) {
    vision_queue_.push_back(id);
    return;
  }
  try {
    submit_to_core(id, nullptr, now_s);
  } catch (...) {
    requests_.erase(id);
    throw;
  }
}

std::optional<std::string> EngineGroup::resumed_complete(const EngineJob& job, const OutputStream& output) {
  if (job.resume_ids.empty()) return std::nullopt;
  const auto& stops = job.stop_ids;
  if (output.stop_matched() || std::find(stops.begin(), stops.end(), job.resume_ids.back()) != stops.end()) return "stop";
  if (static_cast<int64_t>(job.resume_ids.size()) >= job.max_tokens) return "length";
  return std::nullopt;
}

void EngineGroup::submit_to_core(uint64_t id, std::shared_ptr<const ImageFeatures> images, double now_s) {
  Request& r = requests_.at(id);
  EngineRequest er;
  er.queue = {id, r.job.client_id, r.job.priority, now_s};
  er.ids = r.job.ids;
  er.images = std::move(images);
  er.sampling = r.job.sampling;
  er.max_tokens = r.job.max_tokens;
  er.clip_max_tokens = r.job.clip_max_tokens;
  er.stop_ids = r.job.stop_ids;
  er.image_keys = r.job.image_keys;
  er.resumed = r.job.resume_ids;
  er.structured = r.job.structured;
  r.prompt_tokens = core_.submit(std::move(er));
  if (r.replicate) core_.replicate(id);
}

bool EngineGroup::replicate(uint64_t id, bool copy) {
  const auto it = requests_.find(id);
  if (it == requests_.end() || !store_) return false;
  it->second.replicate = copy;
  core_.replicate(id, copy);  // false while the job waits for the vision encoder
  return true;
}

std::optional<StreamEvent> EngineGroup::cancel(uint64_t id) {
  const auto it = requests_.find(id);
  if (it == requests_.end()) return std::nullopt;
  core_.cancel(id);
  std::erase_if(finished_, [id](const auto& f) { return f.first == id; });
  if (!vision_queue_.empty() && vision_queue_.front() == id) vision_started_ = false;  // abandon its encode
  std::erase(vision_queue_, id);
  release_idle_vision_buffers();
  return final_event(it->second, "cancelled", 0);
}

void EngineGroup::release_idle_vision_buffers() {
  if (vision_queue_.empty() && vision_) vision_->release_buffers_over(kVisionRowsKept);
}

StreamEvent EngineGroup::final_event(Request& r, const std::string& reason, double now_s) {
  StreamEvent e = r.output.finish(reason);
  const uint64_t id = r.job.id;
  e.usage.prompt_tokens = r.prompt_tokens;
  // A moved request starts past its streamed ids too; usage counts the prompt's share only.
  e.usage.cached_tokens = std::min(r.cached_tokens, r.prompt_tokens);
  e.timings = r.job.timings;
  if (r.vision_start_s >= 0 && r.vision_end_s >= 0) e.timings.vision_ms = (r.vision_end_s - r.vision_start_s) * 1000;
  if (r.first_token_s >= 0) {
    e.timings.prefill_ms = (r.first_token_s - std::max(r.arrival_s, r.vision_end_s)) * 1000;
    e.timings.decode_ms = std::max(0.0, now_s - r.first_token_s) * 1000;
  }
  requests_.erase(id);  // r is gone from here on
  return e;
}

std::vector<size_t> EngineGroup::resolve_cached_images(Request& r) {
  const EngineJob& job = r.job;
  r.images.resize(job.images.size());
  std::vector<size_t> missing;
  for (size_t i = 0; i < job.images.size(); ++i) {
    const bool keyed = i < job.image_keys.size() && !job.image_keys[i].empty();
    if (i < job.image_features.size() && !job.image_features[i].empty())
      r.images[i] = parse_cached_features(job.image_features[i]);
    // An identical image may have been encoded for a job ahead of this one since it was preprocessed.
    if (!r.images[i] && keyed && store_)
      if (const CacheValue hit = store_->get_in_memory(job.image_keys[i])) r.images[i] = parse_cached_features(*hit);
    if (!r.images[i]) missing.push_back(i);
  }
  return missing;
}

void EngineGroup::ensure_pixels(EngineJob& job, size_t image) const {
  if (!job.images[image].data.empty()) return;
  if (image >= job.image_files.size() || job.image_files[image].empty() || !options_.preprocessor)
    throw ModelError("image " + std::to_string(image + 1) + " came with neither its pixels nor its file");
  job.images[image] = preprocess_image(job.image_files[image], *options_.preprocessor, job.image_limits);
}

void EngineGroup::encoded(uint64_t id, const VisionOutput& out, double now_s) {
  Request& r = requests_.at(id);
  if (!r.encoding.empty()) {
    const auto& vcfg = *weights_.config().vision;
    auto parts = split_image_features(image_features_of(out, r.encoder_input, vcfg.out_hidden_size),
                                      vcfg.spatial_merge_size);
    for (size_t k = 0; k < r.encoding.size(); ++k) {
      const size_t i = r.encoding[k];
      if (store_ && i < r.job.image_keys.size() && !r.job.image_keys[i].empty())
        store_image_features(*store_, r.job.image_keys[i], parts[k]);
      r.images[i] = std::move(parts[k]);
    }
  }
  std::vector<ImageFeatures> all;
  for (auto& img : r.images) all.push_back(std::move(*img));
  auto features = std::make_shared<const ImageFeatures>(concat_image_features(all));
  r.images.clear();
  r.encoder_input.clear();
  r.job.images.clear();  // the features replace the pixels
  r.job.image_features.clear();
  r.job.image_files.clear();
  submit_to_core(id, std::move(features), now_s);
}

void EngineGroup::advance_vision(double budget_ms, double now_s, std::vector<StreamEvent>& events) {
  if (vision_queue_.empty()) return;
  const uint64_t id = vision_queue_.front();
  Request& r = requests_.at(id);
  VisionModel& vision = *vision_;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    if (!vision_started_) {
      r.vision_start_s = now_s;
      r.encoding = resolve_cached_images(r);
      if (r.encoding.empty()) {  // every image came from the cache: no encoder at all
        vision_queue_.pop_front();
        r.vision_end_s = now_s;
        encoded(id, {}, now_s);
        return;
      }
      for (size_t i : r.encoding) {
        ensure_pixels(r.job, i);
        r.encoder_input.push_back(std::move(r.job.images[i]));
      }
      vision.begin(r.encoder_input);
      vision_started_ = true;
    }
    // Pieces of most of the budget left, sized from the last measured cost per row of the same
    // kind of pass (a block's attention pass costs several times its QKV pass per row), until
    // less than an eighth of the budget is left.
    for (double spent = 0; !vision.finished() && spent < budget_ms * 7 / 8;) {
      double& ms_per_row = ms_per_row_[static_cast<size_t>(vision.pass())];
      const double rows = ms_per_row > 0 ? std::clamp((budget_ms - spent) * 3 / 4 / ms_per_row, 1.0, 1e12) : 8.0;
      const auto piece_start = std::chrono::steady_clock::now();
      const int64_t ran = vision.advance(static_cast<int64_t>(rows));
      const double ms = ms_since(piece_start);
      ms_per_row = ms / static_cast<double>(std::max<int64_t>(1, ran));
      spent += ms;
      stats_.vision_rows += ran;
    }
    if (!vision.finished()) return;
    const VisionOutput& out = vision.finish();
    vision_started_ = false;
    vision_queue_.pop_front();
    r.vision_end_s = now_s + ms_since(t0) / 1000;
    encoded(id, out, now_s);
  } catch (const DeviceLost&) {
    throw;  // as in EngineCore::step
  } catch (const std::exception& e) {
    vision_started_ = false;
    std::erase(vision_queue_, id);
    StreamEvent ev = final_event(r, "error", now_s);
    ev.error = {ErrorCode::bad_request, e.what()};
    events.push_back(std::move(ev));
  }
}

std::optional<uint64_t> EngineGroup::preempt_one() {
  const auto id = core_.preempt_one();
  if (id) ++memory_preemptions_;
  return id;
}

std::vector<StreamEvent> EngineGroup::step(double now_s) {
  std::vector<StreamEvent> events;
  stats_ = {};
  // The encoder runs in pieces of about half a step beside text, a whole step without: never an
  // image whole, so a request that arrives meanwhile (or a cancellation) waits one step at most.
  const bool beside_text = !core_.idle();
  const double vision_budget = beside_text ? options_.target_step_ms / 2 : options_.target_step_ms;
  const auto step_start = std::chrono::steady_clock::now();
  for (auto& [id, reason] : std::exchange(finished_, {})) events.push_back(final_event(requests_.at(id), reason, now_s));
  advance_vision(vision_budget, now_s, events);
  release_idle_vision_buffers();

  const auto t0 = std::chrono::steady_clock::now();
  // The text step gets what the vision piece left of the target, so the two together (a decoding
  // stream's gap between tokens) stay near it.
  const double vision_ms = ms_since(step_start);
  const bool shared_step = beside_text && vision_ms > 0.5;
  core_.scheduler().set_max_batch_tokens(shared_step ? budget_.budget_within(options_.target_step_ms - vision_ms)
                                                     : budget_.budget());
  const std::vector<TokenEvent> tokens = core_.step(now_s);
  const StepReport& report = core_.last_step();
  const double done_s = now_s + ms_since(step_start) / 1000;  // the vision pieces ran first
  for (const TokenEvent& t : tokens) {
    Request& r = requests_.at(t.id);
    if (t.finish == FinishReason::error) {
      StreamEvent ev = final_event(r, "error", done_s);
      ev.error = {ErrorCode::internal, report.error};
      events.push_back(std::move(ev));
      continue;
    }
    if (r.first_token_s < 0) r.first_token_s = done_s;
    r.cached_tokens = t.cached_tokens;
    StreamEvent delta = r.output.push(t.token, t.logprobs ? &*t.logprobs : nullptr);
    if (!delta.token_ids.empty()) events.push_back(std::move(delta));
    if (r.output.stop_matched()) {
      core_.cancel(t.id);  // a stop string ends the sequence at the step that completed it
      events.push_back(final_event(r, "stop", done_s));
    } else if (t.finish != FinishReason::none) {
      events.push_back(final_event(r, finish_reason_name(t.finish), done_s));
    }
  }
  stats_.sequences = report.sequences;
  stats_.prefill_tokens = report.prefill_tokens;
  stats_.decode_tokens = report.decode_tokens;
  stats_.preempted = static_cast<int64_t>(report.preempted.size()) + std::exchange(memory_preemptions_, 0);
  stats_.ms = ms_since(t0);
  budget_.observe(report.prefill_tokens + report.decode_tokens, report.ms);
  core_.scheduler().set_max_batch_tokens(budget_.budget());
  stats_.token_budget = core_.scheduler().max_batch_tokens();
  return events;
}

bool EngineGroup::has_work() const {
  return !finished_.empty() || !vision_queue_.empty() || core_.running() > 0 || (core_.waiting() > 0 && core_.admitting());
}

EngineLoad EngineGroup::load() const {
  int64_t image_bytes = 0;
  for (const auto& [id, r] : requests_) {
    for (const auto& image : r.job.images) image_bytes += static_cast<int64_t>(image.data.size() * sizeof(float));
    for (const auto& image : r.encoder_input) image_bytes += static_cast<int64_t>(image.data.size() * sizeof(float));
  }
  const Backend::MemoryUse device = backend_.device_memory();
  return {static_cast<int64_t>(core_.running()),
          static_cast<int64_t>(core_.waiting() + vision_queue_.size()),
          core_.pool().total_blocks() - core_.pool().free_blocks(),
          core_.pool().total_blocks(),
          core_.storage().host_bytes_per_block(),
          core_.pool().touched_blocks(),
          image_bytes,
          stats_.ms,
          static_cast<int64_t>(device.used_bytes),
          static_cast<int64_t>(device.total_bytes),
          backend_.transfer_seconds()};
}

}  // namespace pio
