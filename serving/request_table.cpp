#include "serving/request_table.h"

#include <algorithm>

#include "serving/context_limit.h"

namespace pio {

uint64_t RequestTable::add(ChatRequest request, double now_s) {
  const uint64_t id = next_id_++;
  InFlight r;
  r.arrival_s = now_s;
  if (request.deadline_ms > 0) r.deadline_s = now_s + static_cast<double>(request.deadline_ms) / 1000;
  r.request = std::move(request);
  requests_.emplace(id, std::move(r));
  return id;
}

InFlight* RequestTable::find(uint64_t id) {
  const auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : &it->second;
}

void RequestTable::erase(uint64_t id) {
  unplace(id);
  requests_.erase(id);
}

size_t RequestTable::start(uint64_t id, double now_s) {
  InFlight& r = requests_.at(id);
  r.started_s = now_s;
  r.timings.queue_ms = (now_s - r.arrival_s) * 1000;
  size_t images = 0;
  for (const auto& turn : r.request.messages)
    for (const auto& part : turn.parts) images += part.is_image ? 1 : 0;
  r.images.resize(images);
  r.pending = static_cast<int>(images) + 1;  // and the text
  return images;
}

bool RequestTable::tokens_done(uint64_t id, PromptTokens tokens, double now_s) {
  InFlight& r = requests_.at(id);
  r.timings.tokenize_ms = (now_s - r.started_s) * 1000;
  r.tokens = std::move(tokens);
  return --r.pending == 0;
}

bool RequestTable::image_done(uint64_t id, size_t index, PreparedImage image, double now_s) {
  InFlight& r = requests_.at(id);
  r.timings.preprocess_ms = std::max(r.timings.preprocess_ms, (now_s - r.started_s) * 1000);
  r.images.at(index) = std::move(image);
  return --r.pending == 0;
}

void drop_pixels_with_files(EngineJob& job) {
  for (size_t i = 0; i < job.images.size() && i < job.image_files.size(); ++i)
    if (!job.image_files[i].empty()) job.images[i].data = {};  // frees them
}

std::optional<std::string> RequestTable::assemble(uint64_t id) {
  InFlight& r = requests_.at(id);
  std::vector<int64_t> image_tokens;
  for (const auto& image : r.images) image_tokens.push_back(image.tokens);
  const ContextFit fit = fit_context(expanded_prompt_tokens(static_cast<int64_t>(r.tokens.ids.size()), image_tokens),
                                     r.request.max_tokens, r.request.clip_max_tokens, context_,
                                     r.request.messages.empty() ? "prompt" : "messages");
  if (!fit.error.empty()) return fit.error;
  EngineJob job;
  job.id = id;
  job.client_id = r.request.client_id;
  job.priority = r.request.priority;
  job.ids = std::move(r.tokens.ids);
  for (auto& image : r.images) {
    job.images.push_back(std::move(image.pixels));
    job.image_keys.push_back(std::move(image.cache_key));
    job.image_features.push_back(std::move(image.features));
    job.image_files.push_back(std::move(image.file));
    if (image.limits.max_pixels > 0) job.image_limits = image.limits;
  }
  r.images.clear();
  job.sampling = r.request.sampling;
  job.max_tokens = fit.max_tokens;
  job.clip_max_tokens = r.request.clip_max_tokens;
  job.stop_ids = r.request.stop_ids;
  job.stop = r.request.stop;
  job.stream = r.request.stream;
  job.show_special_tokens = r.request.show_special_tokens;
  job.structured = r.request.structured;
  job.timings = r.timings;
  r.job = std::move(job);
  return std::nullopt;
}

std::optional<EngineJob> RequestTable::place(uint64_t id) {
  InFlight& r = requests_.at(id);
  if (!r.job) return std::nullopt;
  unplace(id);
  r.placement = next_placement_++;
  ++r.placements;
  placements_[r.placement] = id;
  EngineJob job;
  if (r.placements == 1) {  // the first placement takes the pixels; a later one sends the files
    job = std::move(*r.job);
    r.job = job;
    drop_pixels_with_files(*r.job);
  } else {
    job = *r.job;
  }
  job.id = r.placement;
  job.resume_ids = r.streamed;
  return job;
}

std::optional<uint64_t> RequestTable::request_of_placement(uint64_t placement) const {
  const auto it = placements_.find(placement);
  if (it == placements_.end()) return std::nullopt;
  return it->second;
}

void RequestTable::unplace(uint64_t id) {
  const auto it = requests_.find(id);
  if (it == requests_.end() || it->second.placement == 0) return;
  placements_.erase(it->second.placement);
  it->second.placement = 0;
}

std::optional<uint64_t> RequestTable::engine_event(StreamEvent& e, double now_s, double& itl_ms) {
  itl_ms = -1;
  const auto id = request_of_placement(e.request_id);
  if (!id) return std::nullopt;
  InFlight& r = requests_.at(*id);
  e.request_id = *id;
  if (!e.token_ids.empty()) {
    if (r.last_event_s < 0) r.timings.ttft_ms = (now_s - r.arrival_s) * 1000;
    else itl_ms = (now_s - r.last_event_s) * 1000;
    r.last_event_s = now_s;
    r.streamed.insert(r.streamed.end(), e.token_ids.begin(), e.token_ids.end());
  }
  return id;
}

std::vector<uint64_t> RequestTable::late(double now_s) const {
  std::vector<uint64_t> ids;
  for (const auto& [id, r] : requests_)
    if (now_s >= r.deadline_s) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

void RequestTable::finish(uint64_t id, StreamEvent& e, double now_s) const {
  const InFlight& r = requests_.at(id);
  e.request_id = id;
  e.timings.queue_ms = r.timings.queue_ms;
  e.timings.tokenize_ms = r.timings.tokenize_ms;
  e.timings.preprocess_ms = r.timings.preprocess_ms;
  e.timings.ttft_ms = r.timings.ttft_ms;
  e.timings.total_ms = (now_s - r.arrival_s) * 1000;
  e.seed = r.request.sampling.seed;
}

}  // namespace pio
