#include "actors/supervisor.h"

#include <malloc.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <unordered_map>

#include <caf/typed_event_based_actor.hpp>

#include "actors/clock.h"
#include "actors/plugin_stages.h"
#include "actors/profiler_actor.h"
#include "actors/router.h"
#include "actors/workers.h"
#include "serving/context_limit.h"
#include "serving/prefix_keys.h"

namespace pio {
namespace {

// One request from arrival to its final event.
struct InFlight {
  ChatRequest request;
  stream_sink sink;
  double arrival_s = 0;
  double deadline_s = std::numeric_limits<double>::infinity();
  double started_s = -1;     // admitted into the pipeline
  int pending = 0;           // tokenize and preprocess answers still outstanding
  PromptTokens tokens;
  std::vector<PreparedImage> images;
  StageTimings timings;
  bool at_engine = false;
  double last_event_s = -1;  // for inter-token latency
};

// The supervisor's children; shared with the clean-up that stops them when it ends.
struct Children {
  tokenizer_actor tokenizer;
  preprocessor_actor preprocessor;
  prefetch_actor prefetcher;  // null without a cache
  engine_actor engine;
  router_actor router;
  profiler_actor profiler;
  PluginStages plugins;
};

// Work that a plug-in stage's actor still held when it stopped (CAF bounces it with
// request_receiver_down): sent again to the stage's new actor once it is restarted.
struct ParkedWork {
  std::vector<std::pair<size_t, uint64_t>> filters;      // stage, request id
  std::vector<std::pair<size_t, StreamEvent>> outputs;  // stage, the event
};

struct SupervisorState {
  NodeSettings settings;
  std::unique_ptr<Admission> admission;
  std::shared_ptr<Children> kids = std::make_shared<Children>();
  std::unordered_map<uint64_t, InFlight> requests;
  uint64_t next_id = 1;
  bool draining = false;
  std::vector<caf::typed_response_promise<bool>> drain_waiters;
  MemoryLevel level = MemoryLevel::normal;
  ParkedWork parked;
  bool releasing = false;   // start() calls are running from release_waiting()
  bool release_again = false;
  EngineLoad load;          // the engine groups' last report (each tick asks)
  double base_mb = 0;       // RSS when the node started: weights, code, pools
  double last_trim_s = -1;  // when freed heap memory was last returned to the system
};

using supervisor_pointer = supervisor_actor::stateful_pointer<SupervisorState>;

StreamEvent error_event(uint64_t id, ErrorCode code, const std::string& message) {
  StreamEvent e;
  e.request_id = id;
  e.final = true;
  e.finish_reason = code == ErrorCode::cancelled ? "cancelled" : "error";
  e.error = {code, message};
  return e;
}

class Supervisor {
 public:
  explicit Supervisor(supervisor_pointer self) : self_(self), st_(self->state) {}

  void spawn_children() {
    auto& sys = self_->system();
    const auto& s = st_.settings;
    st_.kids->profiler = spawn_profiler(sys, s.profiler);
    st_.kids->tokenizer = spawn_tokenizer_pool(sys, s.engine.tokenizer, s.tokenizer_workers);
    st_.kids->preprocessor = spawn_preprocessor_pool(sys, s.preprocessor, s.max_pixels, s.preprocessor_workers, s.engine.cache);
    st_.kids->router = spawn_router(sys, 1);
    spawn_engine_group();
    // Monitored, not linked: a killed child must not take the supervisor with it.
    self_->monitor(st_.kids->router);
    self_->monitor(st_.kids->profiler);
    self_->monitor(st_.kids->tokenizer);
    self_->monitor(st_.kids->preprocessor);
    if (s.engine.cache) {
      st_.kids->prefetcher = spawn_prefetcher(sys, s.engine.cache);
      self_->monitor(st_.kids->prefetcher);
    }
    if (s.plugins) st_.kids->plugins = PluginStages(s.plugins);
    st_.kids->plugins.start(self_);
    // They end with the supervisor.
    self_->attach_functor([kids = st_.kids] {
      kids->plugins.stop();
      caf::anon_send_exit(kids->engine, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(kids->router, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(kids->profiler, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(kids->tokenizer, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(kids->preprocessor, caf::exit_reason::user_shutdown);
      if (kids->prefetcher) caf::anon_send_exit(kids->prefetcher, caf::exit_reason::user_shutdown);
    });
  }

  uint64_t submit(ChatRequest& request, const stream_sink& sink) {
    const uint64_t id = st_.next_id++;
    if (st_.draining) return refuse(id, sink, ErrorCode::overloaded, "the node is shutting down");
    if (request.max_tokens <= 0 || request.max_tokens > st_.settings.max_tokens_limit)
      return refuse(id, sink, ErrorCode::bad_request,
                    "max_tokens must be in [1, " + std::to_string(st_.settings.max_tokens_limit) + "]");
    if (request.deadline_ms < 0) return refuse(id, sink, ErrorCode::bad_request, "deadline_ms must be >= 0");
    if (!request.sampling.seed) request.sampling.seed = fresh_seed();  // before anything runs: replayable
    self_->monitor(sink);
    InFlight r;
    r.sink = sink;
    r.arrival_s = monotonic_s();
    if (request.deadline_ms > 0) r.deadline_s = r.arrival_s + static_cast<double>(request.deadline_ms) / 1000;
    r.request = std::move(request);
    st_.requests.emplace(id, std::move(r));
    switch (st_.admission->arrive(id, memory_mb())) {
      case Admission::Decision::start: start(id); break;
      case Admission::Decision::wait: break;
      case Admission::Decision::refuse:
        end(id, error_event(id, ErrorCode::overloaded, "the node is overloaded; retry later"));
        break;
    }
    return id;
  }

  // Ends a request now, wherever it is: the client gets its final event at once, and the engine
  // frees its sequence at its next step boundary (its own final event then finds no request).
  void cancel(uint64_t id, ErrorCode code, const std::string& why) {
    const auto it = st_.requests.find(id);
    if (it == st_.requests.end()) return;
    if (it->second.at_engine) self_->send(st_.kids->router, cancel_atom::value, id);
    end(id, error_event(id, code, why));
  }

  // After the drain timeout: every request still in flight ends with an error event.
  void end_all(const std::string& why) {
    std::vector<uint64_t> ids;
    for (const auto& [id, r] : st_.requests) ids.push_back(id);
    for (uint64_t id : ids) cancel(id, ErrorCode::overloaded, why);
  }

  void on_event(StreamEvent& e) {
    const auto it = st_.requests.find(e.request_id);
    if (it == st_.requests.end()) return;  // ended already (cancelled, deadline)
    InFlight& r = it->second;
    const double now = monotonic_s();
    if (!e.token_ids.empty()) {
      if (r.last_event_s < 0) r.timings.ttft_ms = (now - r.arrival_s) * 1000;
      else self_->send(st_.kids->profiler, stage_atom::value, std::string("itl"), (now - r.last_event_s) * 1000);
      r.last_event_s = now;
    }
    through_outputs(std::move(e), 0);
  }

  void tick() {
    const double now = monotonic_s();
    std::vector<uint64_t> late;
    for (const auto& [id, r] : st_.requests)
      if (now >= r.deadline_s) late.push_back(id);
    for (uint64_t id : late) cancel(id, ErrorCode::deadline_exceeded, "the request's deadline passed");
    self_->request(st_.kids->router, std::chrono::seconds(5), load_atom::value)
        .then([this](const EngineLoad& load) { st_.load = load; }, [](caf::error&) {});
    check_memory();
    self_->delayed_send(self_, std::chrono::milliseconds(static_cast<int64_t>(st_.settings.tick_s * 1000)), tick_atom::value);
  }

  // A child died: restart it; the requests it held end with an error event. A client's sink
  // went away: its requests free their sequences at the next step.
  void on_down(const caf::down_msg& down) {
    if (st_.kids->plugins.on_down(self_, down.source, monotonic_s())) {  // restarted, or held down
      resume_parked();
      return;
    }
    if (down.source == st_.kids->engine.address()) {
      spawn_engine_group();  // the requests the dead one held end with an error
    } else if (down.source == st_.kids->router.address()) {
      st_.kids->router = spawn_router(self_->system(), 1);
      self_->monitor(st_.kids->router);
      spawn_engine_group();
    } else if (down.source == st_.kids->profiler.address()) {
      st_.kids->profiler = spawn_profiler(self_->system(), st_.settings.profiler);
      self_->monitor(st_.kids->profiler);
    } else if (down.source == st_.kids->tokenizer.address()) {
      st_.kids->tokenizer = spawn_tokenizer_pool(self_->system(), st_.settings.engine.tokenizer, st_.settings.tokenizer_workers);
      self_->monitor(st_.kids->tokenizer);
    } else if (down.source == st_.kids->preprocessor.address()) {
      st_.kids->preprocessor = spawn_preprocessor_pool(self_->system(), st_.settings.preprocessor, st_.settings.max_pixels,
                                                       st_.settings.preprocessor_workers, st_.settings.engine.cache);
      self_->monitor(st_.kids->preprocessor);
    } else if (st_.kids->prefetcher && down.source == st_.kids->prefetcher.address()) {
      st_.kids->prefetcher = spawn_prefetcher(self_->system(), st_.settings.engine.cache);
      self_->monitor(st_.kids->prefetcher);
    } else {
      std::vector<uint64_t> orphaned;
      for (const auto& [id, r] : st_.requests)
        if (r.sink.address() == down.source) orphaned.push_back(id);
      for (uint64_t id : orphaned) cancel(id, ErrorCode::cancelled, "the client went away");
    }
  }

  caf::typed_response_promise<StatsReport> stats() {
    auto promise = self_->make_response_promise<StatsReport>();
    const auto running = static_cast<int64_t>(st_.admission->running());
    const auto queued = static_cast<int64_t>(st_.admission->queued());
    self_->request(st_.kids->router, std::chrono::seconds(10), load_atom::value)
        .then(
            [=, this](const EngineLoad& load) mutable {
              self_->request(st_.kids->profiler, std::chrono::seconds(10), stats_atom::value, load, running, queued)
                  .then([=](const StatsReport& r) mutable { promise.deliver(r); },
                        [=](caf::error& e) mutable { promise.deliver(std::move(e)); });
            },
            [=](caf::error& e) mutable { promise.deliver(std::move(e)); });
    return promise;
  }

  // The stages that are down (empty: healthy).
  NodeHealth health() const { return {st_.kids->plugins.down()}; }

  caf::typed_response_promise<bool> drain() {
    st_.draining = true;
    auto promise = self_->make_response_promise<bool>();
    if (st_.requests.empty()) promise.deliver(true);
    else st_.drain_waiters.push_back(promise);
    return promise;
  }

 private:
  // What the thresholds judge (MiB): what pio holds (the memory it started with, KV blocks in
  // use, the cache's hot tier, images' pixels here and at the engine). Process RSS is the
  // backstop against what that misses, judged against the hard threshold only (RSS keeps what
  // the allocator and libraries do not give back, so against soft it would hold admission shut
  // for good): when it reaches hard, freed heap memory goes back to the system first
  // (malloc_trim, at most once a second), and RSS less the KV pool's pages that stay resident
  // while their blocks are free is judged.
  double memory_mb() {
    if (st_.settings.memory_mb) return st_.settings.memory_mb();
    constexpr double kMiB = 1024.0 * 1024.0;
    const EngineLoad& l = st_.load;
    double held = st_.base_mb + static_cast<double>(l.kv_blocks_used * l.kv_bytes_per_block + l.image_bytes) / kMiB;
    if (const auto& cache = st_.settings.engine.cache)
      for (const auto& tier : cache->stats())
        if (tier.tier == "hot") held += static_cast<double>(tier.bytes) / kMiB;
    for (const auto& [id, r] : st_.requests)
      for (const auto& image : r.images) held += static_cast<double>(image.pixels.data.size() * sizeof(float)) / kMiB;
    const double kv_idle_mb =
        static_cast<double>(std::max<int64_t>(0, l.kv_blocks_touched - l.kv_blocks_used) * l.kv_bytes_per_block) / kMiB;
    double rss = resident_mb() - kv_idle_mb;
    if (st_.admission->level(rss) != MemoryLevel::hard) return held;
    if (const double now = monotonic_s(); st_.last_trim_s < 0 || now - st_.last_trim_s >= 1) {
      malloc_trim(0);
      st_.last_trim_s = now;
      rss = resident_mb() - kv_idle_mb;
    }
    return st_.admission->level(rss) == MemoryLevel::hard ? std::max(held, rss) : held;
  }

  void spawn_engine_group() {
    st_.kids->engine = spawn_engine(self_->system(), st_.settings.engine, caf::actor_cast<supervisor_actor>(self_), st_.kids->profiler);
    self_->monitor(st_.kids->engine);
    if (st_.level == MemoryLevel::hard) self_->send(st_.kids->engine, admit_atom::value, false);
    self_->request(st_.kids->router, caf::infinite, group_atom::value, uint32_t{0}, st_.kids->engine)
        .then(
            [this](const std::vector<uint64_t>& lost) {
              for (uint64_t id : lost) end(id, error_event(id, ErrorCode::internal, "the engine stopped; it was restarted"));
            },
            [](caf::error&) {});  // the router died: its down message restarts it and the group
  }

  uint64_t refuse(uint64_t id, const stream_sink& sink, ErrorCode code, const std::string& why) {
    self_->send(sink, event_atom::value, error_event(id, code, why));
    self_->send(st_.kids->profiler, done_atom::value, std::string("refused"), Usage{}, StageTimings{});
    return id;
  }

  // Memory: above soft the cache's hot tier is emptied (its entries stay on disk) and the KV
  // blocks kept for prefix caching are let go; above hard
  // the engine preempts (one sequence per tick) and admits nothing new; back at normal the hot
  // tier gets its bound back, the engine admits again and waiting requests start.
  void check_memory() {
    const double used = memory_mb();
    const MemoryLevel level = st_.admission->level(used);
    if (level != st_.level) {
      static const char* const names[] = {"normal", "soft: new requests wait", "hard: preempting, refusing new requests"};
      std::cerr << "pio-node: memory " << static_cast<int64_t>(used) << " MiB: level "
                << names[static_cast<int>(level)] << "\n";
    }
    if (const auto& cache = st_.settings.engine.cache; cache && level != st_.level) {
      cache->set_hot_limit(level == MemoryLevel::normal ? cache->configured_hot_limit() : 0);
      if (level != MemoryLevel::normal) self_->send(st_.kids->router, shrink_atom::value);
    }
    if (level == MemoryLevel::hard) self_->send(st_.kids->router, preempt_atom::value);
    if ((level == MemoryLevel::hard) != (st_.level == MemoryLevel::hard))
      self_->send(st_.kids->router, admit_atom::value, level != MemoryLevel::hard);
    st_.level = level;
    release_waiting(used);
  }

  // Plug-ins' output processors, in order, then the client.
  void through_outputs(StreamEvent e, size_t stage) {
    const PluginStages& plugins = st_.kids->plugins;
    if (stage == plugins.outputs()) {
      deliver(std::move(e));
      return;
    }
    const uint64_t id = e.request_id;
    if (!plugins.output(stage)) {
      plugin_failed(id, {ErrorCode::internal, PluginStages::down_message(plugins.output_name(stage))});
      return;
    }
    auto copy = std::make_shared<StreamEvent>(e);  // to send again if the stage stops meanwhile
    const output_actor target = plugins.output(stage);
    self_->request(target, caf::infinite, output_atom::value, std::move(e))
        .then([this, stage](StreamEvent& processed) { through_outputs(std::move(processed), stage + 1); },
              [this, id, stage, copy, target, name = plugins.output_name(stage)](caf::error& err) {
                if (err != caf::sec::request_receiver_down) plugin_failed(id, stage_failure(name, err, ErrorCode::internal));
                else if (st_.kids->plugins.output(stage) != target) through_outputs(std::move(*copy), stage);  // restarted
                else st_.parked.outputs.emplace_back(stage, std::move(*copy));  // its restart comes next
              });
  }

  // A plug-in stage stopped (another request's fault) with these still queued: each goes to the
  // restarted stage, or ends with the stage's error if it is held down.
  void resume_parked() {
    ParkedWork parked = std::exchange(st_.parked, {});
    for (auto& [stage, id] : parked.filters)
      if (st_.requests.count(id)) filter(id, stage);
    for (auto& [stage, e] : parked.outputs)
      if (st_.requests.count(e.request_id)) through_outputs(std::move(e), stage);
  }

  // A plug-in stage failed the request (or is down): it ends now with that error, and the
  // engine, if it holds it, stops its work.
  void plugin_failed(uint64_t id, const StageFailure& failure) { cancel(id, failure.code, failure.message); }

  void deliver(StreamEvent e) {
    const auto it = st_.requests.find(e.request_id);
    if (it == st_.requests.end()) return;
    InFlight& r = it->second;
    if (!e.final) {
      self_->send(r.sink, event_atom::value, std::move(e));
      return;
    }
    end(e.request_id, std::move(e));
  }

  // Starts the requests admission lets in. A start can end a request at once (a plug-in stage
  // that is down), which lets the next one in: those starts run in this loop, not nested, so the
  // stack stays flat however long the queue.
  void release_waiting(double used_mb) {
    if (st_.releasing) {
      st_.release_again = true;
      return;
    }
    st_.releasing = true;
    do {
      st_.release_again = false;
      for (uint64_t id : st_.admission->release(used_mb)) start(id);
    } while (st_.release_again);
    st_.releasing = false;
  }

  void start(uint64_t id) {
    InFlight& r = st_.requests.at(id);
    r.started_s = monotonic_s();
    r.timings.queue_ms = (r.started_s - r.arrival_s) * 1000;
    filter(id, 0);
  }

  // Plug-ins' request filters, in order, then the pipeline.
  void filter(uint64_t id, size_t stage) {
    const PluginStages& plugins = st_.kids->plugins;
    if (stage == plugins.filters()) {
      run_pipeline(id);
      return;
    }
    if (!plugins.filter(stage)) {
      plugin_failed(id, {ErrorCode::internal, PluginStages::down_message(plugins.filter_name(stage))});
      return;
    }
    const filter_actor target = plugins.filter(stage);
    self_->request(target, caf::infinite, filter_atom::value, st_.requests.at(id).request)
        .then(
            [this, id, stage](ChatRequest& request) {
              if (!st_.requests.count(id)) return;
              st_.requests.at(id).request = std::move(request);
              filter(id, stage + 1);
            },
            [this, id, stage, target, name = plugins.filter_name(stage)](caf::error& err) {
              if (err != caf::sec::request_receiver_down) plugin_failed(id, stage_failure(name, err, ErrorCode::bad_request));
              else if (st_.kids->plugins.filter(stage) != target) filter(id, stage);  // restarted already
              else st_.parked.filters.emplace_back(stage, id);                          // its restart comes next
            });
  }

  // Tokenize and preprocess in parallel; the job goes to the engine when both are in.
  void run_pipeline(uint64_t id) {
    InFlight& r = st_.requests.at(id);
    for (const auto& turn : r.request.messages)
      for (const auto& part : turn.parts)
        if (part.is_image) ++r.pending;
    r.images.resize(static_cast<size_t>(r.pending));
    ++r.pending;  // the text
    const auto failed = [this, id](const char* stage, ErrorCode code) {
      return [this, id, stage, code](caf::error& err) {
        if (st_.requests.count(id))
          end(id, error_event(id, code, std::string(stage) + ": " + self_->system().render(err)));
      };
    };
    self_->request(st_.kids->tokenizer, caf::infinite, tokenize_atom::value, r.request)
        .then(
            [this, id](PromptTokens& tokens) {
              if (!st_.requests.count(id)) return;
              InFlight& q = st_.requests.at(id);
              q.timings.tokenize_ms = (monotonic_s() - q.started_s) * 1000;
              q.tokens = std::move(tokens);
              part_done(id);
            },
            failed("tokenize", ErrorCode::bad_request));
    size_t index = 0;
    for (auto& turn : r.request.messages) {
      for (auto& part : turn.parts) {
        if (!part.is_image) continue;
        const size_t i = index++;
        self_->request(st_.kids->preprocessor, caf::infinite, preprocess_atom::value, std::move(part.image),
                       r.request.max_pixels)
            .then(
                [this, id, i](PreparedImage& image) {
                  if (!st_.requests.count(id)) return;
                  InFlight& q = st_.requests.at(id);
                  q.timings.preprocess_ms = std::max(q.timings.preprocess_ms, (monotonic_s() - q.started_s) * 1000);
                  q.images[i] = std::move(image);
                  part_done(id);
                },
                failed("image", ErrorCode::bad_image));
        part.image.clear();  // the bytes moved to the preprocessor
      }
    }
  }

  void part_done(uint64_t id) {
    InFlight& r = st_.requests.at(id);
    if (--r.pending > 0) return;
    std::vector<int64_t> image_tokens;
    for (const auto& image : r.images) image_tokens.push_back(image.tokens);
    const ContextFit fit =
        fit_context(expanded_prompt_tokens(static_cast<int64_t>(r.tokens.ids.size()), image_tokens),
                    r.request.max_tokens, r.request.clip_max_tokens,
                    st_.settings.engine.model->config().text.max_position_embeddings);
    if (!fit.error.empty()) {
      end(id, error_event(id, ErrorCode::bad_request, fit.error));
      return;
    }
    EngineJob job;
    job.id = id;
    job.client_id = r.request.client_id;
    job.priority = r.request.priority;
    job.ids = std::move(r.tokens.ids);
    for (auto& image : r.images) {
      job.images.push_back(std::move(image.pixels));
      job.image_keys.push_back(std::move(image.cache_key));
      job.image_features.push_back(std::move(image.features));
    }
    job.sampling = r.request.sampling;
    job.max_tokens = fit.max_tokens;
    job.stop_ids = r.request.stop_ids;
    const auto& model_stops = st_.settings.engine.model->stop_ids();
    job.stop_ids.insert(job.stop_ids.end(), model_stops.begin(), model_stops.end());
    job.stop = r.request.stop;
    job.stream = r.request.stream;
    job.show_special_tokens = r.request.show_special_tokens;
    job.timings = r.timings;
    // The prompt's cached KV blocks come from disk on a pool thread, so the engine's step never
    // waits for a disk read; the job goes on whatever the prefetch found.
    std::vector<std::string> keys;
    if (const auto& cache = st_.settings.engine.cache)
      keys = cache->disk_only(prefix_block_keys(job, st_.settings.engine.model->config(), st_.settings.engine.kv_block_size));
    if (keys.empty()) {
      to_engine(std::move(job));
      return;
    }
    auto held = std::make_shared<EngineJob>(std::move(job));
    const auto go = [this, held] { to_engine(std::move(*held)); };
    self_->request(st_.kids->prefetcher, std::chrono::seconds(30), prefetch_atom::value, std::move(keys))
        .then([go](uint64_t) { go(); }, [go](caf::error&) { go(); });
  }

  void to_engine(EngineJob job) {
    const auto it = st_.requests.find(job.id);
    if (it == st_.requests.end()) return;  // ended meanwhile (cancelled, deadline)
    it->second.at_engine = true;
    self_->send(st_.kids->router, enqueue_atom::value, std::move(job));
  }

  // Sends the final event, records the outcome, and lets waiting requests in.
  void end(uint64_t id, StreamEvent e) {
    const auto it = st_.requests.find(id);
    if (it == st_.requests.end()) return;
    InFlight& r = it->second;
    const double now = monotonic_s();
    const double ttft = r.timings.ttft_ms;
    e.timings.queue_ms = r.timings.queue_ms;
    e.timings.tokenize_ms = r.timings.tokenize_ms;
    e.timings.preprocess_ms = r.timings.preprocess_ms;
    e.timings.ttft_ms = ttft;
    e.timings.total_ms = (now - r.arrival_s) * 1000;
    e.seed = r.request.sampling.seed;
    self_->send(st_.kids->profiler, done_atom::value, e.finish_reason, e.usage, e.timings);
    self_->send(r.sink, event_atom::value, std::move(e));
    if (r.at_engine) self_->send(st_.kids->router, done_atom::value, id);
    st_.requests.erase(it);
    st_.admission->ended(id);
    release_waiting(memory_mb());
    if (st_.draining && st_.requests.empty()) {
      for (auto& p : st_.drain_waiters) p.deliver(true);
      st_.drain_waiters.clear();
    }
  }

  supervisor_pointer self_;
  SupervisorState& st_;
};

supervisor_actor::behavior_type supervisor_behavior(supervisor_pointer self, NodeSettings settings) {
  self->state.settings = std::move(settings);
  self->state.admission = std::make_unique<Admission>(self->state.settings.admission);
  self->state.base_mb = resident_mb();
  auto sup = std::make_shared<Supervisor>(self);
  sup->spawn_children();
  self->set_down_handler([sup](caf::down_msg& down) { sup->on_down(down); });
  self->send(self, tick_atom::value);
  return {
      [sup](submit_atom, ChatRequest& request, const stream_sink& sink) { return sup->submit(request, sink); },
      [sup](cancel_atom, uint64_t id) { sup->cancel(id, ErrorCode::cancelled, "cancelled by the client"); },
      [sup](stats_atom) { return sup->stats(); },
      [sup](event_atom, StreamEvent& e) { sup->on_event(e); },
      [sup](tick_atom) { sup->tick(); },
      [sup](drain_atom) { return sup->drain(); },
      [sup](abort_atom, const std::string& why) {
        sup->end_all(why);
        return true;
      },
      [sup](health_atom) { return sup->health(); },
      [self](engine_atom) { return self->state.kids->engine; },
  };
}

}  // namespace

supervisor_actor spawn_supervisor(caf::actor_system& sys, NodeSettings settings) {
  return sys.spawn(supervisor_behavior, std::move(settings));
}

}  // namespace pio
