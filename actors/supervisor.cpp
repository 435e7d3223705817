#include "actors/supervisor.h"

#include <malloc.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include <caf/typed_event_based_actor.hpp>

#include "actors/clock.h"
#include "actors/error_words.h"
#include "actors/plugin_stages.h"
#include "actors/profiler_actor.h"
#include "actors/router.h"
#include "actors/workers.h"
#include "serving/prefix_keys.h"
#include "serving/request_table.h"

namespace pio {
namespace {

// The supervisor's children; shared with the clean-up that stops them when it ends.
struct Children {
  tokenizer_actor tokenizer;
  preprocessor_actor preprocessor;
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

// A request is moved off a lost worker at most this often; then it ends with an error (a job
// that kills every worker it reaches must not take the whole cluster down).
constexpr int kMaxPlacements = 4;

struct SupervisorState {
  NodeSettings settings;
  std::unique_ptr<Admission> admission;
  std::shared_ptr<Children> kids = std::make_shared<Children>();
  std::unique_ptr<RequestTable> table;
  std::map<uint32_t, engine_actor> workers;              // joined workers' engine groups, by id
  std::set<uint32_t> draining_workers;                   // of those, the ones that drain (no new jobs)
  std::map<caf::actor_addr, uint32_t> worker_of_engine;
  std::unordered_map<uint64_t, stream_sink> sinks;       // each request's client
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
    st_.kids->router = spawn_router(sys, s.router, s.kv_replicas);
    // Monitored, not linked: a killed child must not take the supervisor with it.
    self_->monitor(st_.kids->router);
    self_->monitor(st_.kids->profiler);
    self_->monitor(st_.kids->tokenizer);
    self_->monitor(st_.kids->preprocessor);
    if (s.plugins) st_.kids->plugins = PluginStages(s.plugins);
    st_.kids->plugins.start(self_);
    // They end with the supervisor.
    self_->attach_functor([kids = st_.kids] {
      kids->plugins.stop();
      caf::anon_send_exit(kids->router, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(kids->profiler, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(kids->tokenizer, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(kids->preprocessor, caf::exit_reason::user_shutdown);
    });
  }

  uint64_t submit(ChatRequest& request, const stream_sink& sink) {
    if (st_.draining) return refuse(sink, ErrorCode::overloaded, "the node is shutting down");
    if (st_.workers.empty()) return refuse(sink, ErrorCode::overloaded, "no worker is serving the model; retry later");
    if (request.max_tokens <= 0 || request.max_tokens > st_.settings.max_tokens_limit)
      return refuse(sink, ErrorCode::bad_request,
                    "max_tokens must be in [1, " + std::to_string(st_.settings.max_tokens_limit) + "]");
    if (request.deadline_ms < 0) return refuse(sink, ErrorCode::bad_request, "deadline_ms must be >= 0");
    if (!request.sampling.seed) request.sampling.seed = fresh_seed();  // before anything runs: replayable
    self_->monitor(sink);
    const uint64_t id = st_.table->add(std::move(request), monotonic_s());
    st_.sinks.emplace(id, sink);
    switch (st_.admission->arrive(id, memory_mb())) {
      case Admission::Decision::start: start(id); break;
      case Admission::Decision::wait: break;
      case Admission::Decision::refuse:
        end(id, error_event(id, ErrorCode::overloaded, "the node is overloaded; retry later"));
        break;
    }
    return id;
  }

  // Ends a request now, wherever it is: the client gets its final event at once, and its worker
  // frees its sequence at its next step boundary (its own final event then finds no placement).
  void cancel(uint64_t id, ErrorCode code, const std::string& why) {
    const InFlight* r = st_.table->find(id);
    if (!r) return;
    if (r->placement) self_->send(st_.kids->router, cancel_atom::value, r->placement);
    end(id, error_event(id, code, why));
  }

  // After the drain timeout: every request still in flight ends with an error event.
  void end_all(const std::string& why) {
    std::vector<uint64_t> ids;
    for (const auto& [id, r] : st_.table->all()) ids.push_back(id);
    for (uint64_t id : ids) cancel(id, ErrorCode::overloaded, why);
  }

  // A worker's event for one of its jobs. One for a placement that is no longer current (its
  // request ended, or moved off this worker while it was cut off) is dropped, and the job is
  // cancelled where it still runs: the first placement to answer wins.
  void on_event(StreamEvent& e) {
    const uint64_t placement = e.request_id;
    double itl_ms = -1;
    const auto id = st_.table->engine_event(e, monotonic_s(), itl_ms);
    if (!id) {
      if (!e.final && self_->current_sender())
        self_->send(caf::actor_cast<engine_actor>(self_->current_sender()), cancel_atom::value, placement);
      return;
    }
    if (itl_ms >= 0) self_->send(st_.kids->profiler, stage_atom::value, std::string("itl"), itl_ms);
    if (e.final) {  // the job left its worker
      self_->send(st_.kids->router, done_atom::value, placement);
      st_.table->unplace(*id);
    }
    through_outputs(std::move(e), 0);
  }

  void step_stats(const StepStats& s) { self_->send(st_.kids->profiler, s); }

  // A worker's KV blocks for its job's replica: the router knows where that is.
  void replica_blocks(KvBlocks& blocks) { self_->send(st_.kids->router, std::move(blocks)); }

  // A worker joins with its engine group: refused (the reply says why) unless its protocol and
  // model equal this front end's.
  caf::result<uint32_t> join(const WorkerHello& hello, const engine_actor& engine) {
    if (hello.protocol != kClusterProtocolVersion)
      return caf::make_error(caf::sec::invalid_argument,
                             "join refused: the worker speaks protocol " + std::to_string(hello.protocol) +
                                 ", this front end " + std::to_string(kClusterProtocolVersion));
    if (hello.fingerprint != st_.settings.fingerprint)
      return caf::make_error(caf::sec::invalid_argument,
                             "join refused: the worker's model fingerprint " + hello.fingerprint +
                                 " differs from the front end's " + st_.settings.fingerprint +
                                 " (another checkpoint, or other weights or dtypes)");
    if (!engine) return caf::make_error(caf::sec::invalid_argument, "join refused: no engine group");
    auto promise = self_->make_response_promise<uint32_t>();
    self_->request(st_.kids->router, std::chrono::seconds(10), join_atom::value, hello.name, engine)
        .then(
            [this, promise, engine, name = hello.name](uint32_t worker) mutable {
              self_->monitor(engine);
              st_.workers.emplace(worker, engine);
              st_.worker_of_engine.emplace(engine.address(), worker);
              std::cerr << "pio-node: worker " << worker << " (" << name << ") joined\n";
              promise.deliver(worker);
            },
            [promise](caf::error& e) mutable { promise.deliver(std::move(e)); });
    return promise;
  }

  void report(uint32_t worker, WorkerReport& report) {
    if (st_.workers.count(worker)) self_->send(st_.kids->router, report_atom::value, worker, std::move(report));
  }

  void worker_drains(uint32_t worker) {
    if (!st_.workers.count(worker)) return;
    st_.draining_workers.insert(worker);
    std::cerr << "pio-node: worker " << worker << " drains: it gets no new requests\n";
    self_->send(st_.kids->router, drain_atom::value, worker);
  }

  void tick() {
    for (uint64_t id : st_.table->late(monotonic_s())) cancel(id, ErrorCode::deadline_exceeded, "the request's deadline passed");
    self_->request(st_.kids->router, std::chrono::seconds(5), load_atom::value)
        .then([this](const EngineLoad& load) { st_.load = load; }, [](caf::error&) {});
    check_memory();
    self_->delayed_send(self_, std::chrono::milliseconds(static_cast<int64_t>(st_.settings.tick_s * 1000)), tick_atom::value);
  }

  // A child died: restart it. A worker was lost: its requests move to the others. A client's
  // sink went away: its requests free their sequences at the next step.
  void on_down(const caf::down_msg& down) {
    if (st_.kids->plugins.on_down(self_, down.source, monotonic_s())) {  // restarted, or held down
      resume_parked();
      return;
    }
    if (const auto w = st_.worker_of_engine.find(down.source); w != st_.worker_of_engine.end()) {
      worker_lost(w->second, self_->system().render(down.reason));
    } else if (down.source == st_.kids->router.address()) {
      router_lost();
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
    } else {
      std::vector<uint64_t> orphaned;
      for (const auto& [id, sink] : st_.sinks)
        if (sink.address() == down.source) orphaned.push_back(id);
      for (uint64_t id : orphaned) cancel(id, ErrorCode::cancelled, "the client went away");
    }
  }

  caf::typed_response_promise<StatsReport> stats() {
    auto promise = self_->make_response_promise<StatsReport>();
    const auto running = static_cast<int64_t>(st_.admission->running());
    const auto queued = static_cast<int64_t>(st_.admission->queued());
    self_->request(st_.kids->router, std::chrono::seconds(10), workers_atom::value)
        .then(
            [=, this](std::vector<WorkerStats>& workers) mutable {
              self_->request(st_.kids->profiler, std::chrono::seconds(10), stats_atom::value, std::move(workers), running,
                             queued)
                  .then([=](const StatsReport& r) mutable { promise.deliver(r); },
                        [=](caf::error& e) mutable { promise.deliver(std::move(e)); });
            },
            [=](caf::error& e) mutable { promise.deliver(std::move(e)); });
    return promise;
  }

  // The stages that are down (empty: healthy); no worker joined counts as one, every worker
  // draining too (new requests would wait for one), and so does the node's own drain (SIGTERM),
  // which refuses every new request: a load balancer should stop sending them.
  NodeHealth health() const {
    NodeHealth h{st_.kids->plugins.down()};
    if (st_.workers.empty()) h.down.push_back("workers (none joined)");
    else if (st_.draining_workers.size() == st_.workers.size()) h.down.push_back("workers (all draining)");
    if (st_.draining) h.down.push_back("admission (the node is shutting down)");
    return h;
  }

  caf::result<engine_actor> first_engine() const {
    if (st_.workers.empty()) return caf::make_error(caf::sec::invalid_argument, "no worker joined");
    return st_.workers.begin()->second;
  }

  caf::typed_response_promise<bool> drain() {
    st_.draining = true;
    auto promise = self_->make_response_promise<bool>();
    if (st_.table->size() == 0) promise.deliver(true);
    else st_.drain_waiters.push_back(promise);
    return promise;
  }

 private:
  // What the thresholds judge (MiB): what pio holds in host memory (the memory it started with,
  // the host part of the KV blocks in use (layers on a device hold theirs in its memory, taken
  // whole at start), the cache's hot tier, images' pixels here and at the engine). Process RSS is the
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
    for (const auto& [id, r] : st_.table->all()) {
      for (const auto& image : r.images) held += static_cast<double>(image.pixels.data.size() * sizeof(float)) / kMiB;
      if (r.job)
        for (const auto& image : r.job->images) held += static_cast<double>(image.data.size() * sizeof(float)) / kMiB;
    }
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

  // A worker is gone: each request it held moves to another worker (or waits at the router for
  // one to join), resuming from what its stream delivered.
  void worker_lost(uint32_t worker, const std::string& why) {
    st_.worker_of_engine.erase(st_.workers.at(worker).address());
    st_.workers.erase(worker);
    st_.draining_workers.erase(worker);
    self_->request(st_.kids->router, caf::infinite, leave_atom::value, worker)
        .then(
            [this, worker, why](const std::vector<uint64_t>& placements) {
              std::cerr << "pio-node: worker " << worker << " left (" << why << "); " << placements.size()
                        << " of its requests move to other workers\n";
              for (uint64_t placement : placements) {
                if (const auto id = st_.table->request_of_placement(placement)) place(*id);
                else self_->send(st_.kids->router, done_atom::value, placement);  // ended meanwhile: forget its replica
              }
            },
            [](caf::error&) {});  // the router died: router_lost() places everything again
  }

  // The router died with every placement: a new one, the workers join it again, and every
  // request that was at a worker is placed again (the old placements' events are then stale).
  void router_lost() {
    st_.kids->router = spawn_router(self_->system(), st_.settings.router, st_.settings.kv_replicas);
    self_->monitor(st_.kids->router);
    auto workers = std::exchange(st_.workers, {});
    st_.worker_of_engine.clear();
    st_.draining_workers.clear();  // the ids change, and the new router knows of no drain
    for (auto& [old_id, engine] : workers) {
      self_->request(st_.kids->router, caf::infinite, join_atom::value, "worker " + std::to_string(old_id), engine)
          .then(
              [this, engine](uint32_t worker) {
                st_.workers.emplace(worker, engine);
                st_.worker_of_engine.emplace(engine.address(), worker);
              },
              [](caf::error&) {});
    }
    std::vector<uint64_t> placed;
    for (const auto& [id, r] : st_.table->all())
      if (r.placement) placed.push_back(id);
    for (uint64_t id : placed) place(id);
  }

  uint64_t refuse(const stream_sink& sink, ErrorCode code, const std::string& why) {
    const uint64_t id = st_.table->refused_id();
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
                else if (!st_.table->find(id)) return;  // the request ended meanwhile (its own event made the stage throw)
                else if (st_.kids->plugins.output(stage) != target) through_outputs(std::move(*copy), stage);  // restarted
                else st_.parked.outputs.emplace_back(stage, std::move(*copy));  // its restart comes next
              });
  }

  // A plug-in stage stopped (another request's fault) with these still queued: each goes to the
  // restarted stage, or ends with the stage's error if it is held down.
  void resume_parked() {
    ParkedWork parked = std::exchange(st_.parked, {});
    for (auto& [stage, id] : parked.filters)
      if (st_.table->find(id)) filter(id, stage);
    for (auto& [stage, e] : parked.outputs)
      if (st_.table->find(e.request_id)) through_outputs(std::move(e), stage);
  }

  // A plug-in stage failed the request (or is down): it ends now with that error, and the
  // engine, if it holds it, stops its work.
  void plugin_failed(uint64_t id, const StageFailure& failure) { cancel(id, failure.code, failure.message); }

  void deliver(StreamEvent e) {
    const auto sink = st_.sinks.find(e.request_id);
    if (sink == st_.sinks.end()) return;
    if (!e.final) {
      self_->send(sink->second, event_atom::value, std::move(e));
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
    st_.table->start(id, monotonic_s());
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
    self_->request(target, caf::infinite, filter_atom::value, st_.table->find(id)->request)
        .then(
            [this, id, stage](ChatRequest& request) {
              InFlight* r = st_.table->find(id);
              if (!r) return;
              r->request = std::move(request);
              filter(id, stage + 1);
            },
            [this, id, stage, target, name = plugins.filter_name(stage)](caf::error& err) {
              if (err != caf::sec::request_receiver_down) plugin_failed(id, stage_failure(name, err, ErrorCode::bad_request));
              else if (st_.kids->plugins.filter(stage) != target) filter(id, stage);  // restarted already
              else st_.parked.filters.emplace_back(stage, id);                          // its restart comes next
            });
  }

  // Tokenize and preprocess in parallel; the job goes to a worker when both are in.
  void run_pipeline(uint64_t id) {
    InFlight& r = *st_.table->find(id);
    // A stage that refused the request's input (its runtime_error: "the request's image 2 cannot
    // be used: ...") ends it with `code`; a stage that failed itself (down, timed out) is the
    // node's fault, not the request's: internal.
    // image: the request's image the stage worked on (-1: none), named in the error for its param.
    const auto failed = [this, id](std::string what, std::string stage, ErrorCode code, int32_t image = -1) {
      return [this, id, what = std::move(what), stage = std::move(stage), code, image](caf::error& err) {
        if (!st_.table->find(id)) return;
        const std::string words = error_words(self_->system(), err);
        if (err == caf::sec::runtime_error) {
          StreamEvent e = error_event(id, code, what + ": " + words);
          e.error.image = image;
          end(id, std::move(e));
        } else {
          end(id, error_event(id, ErrorCode::internal, "the node's " + stage + " failed: " + words));
        }
      };
    };
    self_->request(st_.kids->tokenizer, caf::infinite, tokenize_atom::value, r.request)
        .then(
            [this, id](PromptTokens& tokens) {
              if (st_.table->find(id) && st_.table->tokens_done(id, std::move(tokens), monotonic_s())) to_worker(id);
            },
            failed("the request's text cannot be tokenized", "tokenizer", ErrorCode::bad_request));
    size_t index = 0;
    for (auto& turn : r.request.messages) {
      for (auto& part : turn.parts) {
        if (!part.is_image) continue;
        const size_t i = index++;
        self_->request(st_.kids->preprocessor, caf::infinite, preprocess_atom::value, std::move(part.image),
                       r.request.max_pixels)
            .then(
                [this, id, i](PreparedImage& image) {
                  if (st_.table->find(id) && st_.table->image_done(id, i, std::move(image), monotonic_s())) to_worker(id);
                },
                failed("the request's image " + std::to_string(i + 1) + " cannot be used", "image preprocessor",
                       ErrorCode::bad_image, static_cast<int32_t>(i)));
        part.image.clear();  // the bytes moved to the preprocessor
      }
    }
  }

  void to_worker(uint64_t id) {
    if (const auto error = st_.table->assemble(id)) {
      end(id, error_event(id, ErrorCode::bad_request, *error));
      return;
    }
    place(id);
  }

  // Sends the request's job to the router, which places it on a worker (or holds it until one
  // joins); a request moved too often ends with an error.
  void place(uint64_t id) {
    const InFlight* r = st_.table->find(id);
    if (!r) return;
    if (r->placements >= kMaxPlacements) {
      end(id, error_event(id, ErrorCode::internal,
                          "the request lost " + std::to_string(r->placements) + " workers; it is not moved again"));
      return;
    }
    const uint64_t previous = r->placement;  // a moved request's lost placement: its replica holds its blocks
    auto job = st_.table->place(id);
    if (!job) return;
    auto keys = prefix_block_keys(*job, *st_.settings.config, st_.settings.engine.kv_block_size);
    self_->send(st_.kids->router, enqueue_atom::value, std::move(*job), std::move(keys), previous);
  }

  // Sends the final event, records the outcome, and lets waiting requests in.
  void end(uint64_t id, StreamEvent e) {
    const InFlight* r = st_.table->find(id);
    if (!r) return;
    st_.table->finish(id, e, monotonic_s());
    self_->send(st_.kids->profiler, done_atom::value, e.finish_reason, e.usage, e.timings);
    self_->send(st_.sinks.at(id), event_atom::value, std::move(e));
    if (r->placement) self_->send(st_.kids->router, done_atom::value, r->placement);
    st_.table->erase(id);
    st_.sinks.erase(id);
    st_.admission->ended(id);
    release_waiting(memory_mb());
    if (st_.draining && st_.table->size() == 0) {
      for (auto& p : st_.drain_waiters) p.deliver(true);
      st_.drain_waiters.clear();
    }
  }

  supervisor_pointer self_;
  SupervisorState& st_;
};

supervisor_actor::behavior_type supervisor_behavior(supervisor_pointer self, NodeSettings settings) {
  if (!settings.config) settings.config = std::make_shared<const ModelConfig>(settings.engine.weights->config());
  self->state.settings = std::move(settings);
  self->state.admission = std::make_unique<Admission>(self->state.settings.admission);
  self->state.table = std::make_unique<RequestTable>(self->state.settings.config->text.max_position_embeddings);
  self->state.base_mb = resident_mb();
  auto sup = std::make_shared<Supervisor>(self);
  sup->spawn_children();
  self->set_down_handler([sup](caf::down_msg& down) { sup->on_down(down); });
  self->send(self, tick_atom::value);
  return {
      [sup](submit_atom, ChatRequest& request, const stream_sink& sink) { return sup->submit(request, sink); },
      [sup](cancel_atom, uint64_t id) { sup->cancel(id, ErrorCode::cancelled, "cancelled by the client"); },
      [sup](stats_atom) { return sup->stats(); },
      [sup](join_atom, const WorkerHello& hello, const engine_actor& engine) { return sup->join(hello, engine); },
      [sup](report_atom, uint32_t worker, WorkerReport& report) { sup->report(worker, report); },
      [sup](drain_atom, uint32_t worker) { sup->worker_drains(worker); },
      [sup](event_atom, StreamEvent& e) { sup->on_event(e); },
      [sup](const StepStats& s) { sup->step_stats(s); },
      [sup](KvBlocks& blocks) { sup->replica_blocks(blocks); },
      [sup](tick_atom) { sup->tick(); },
      [sup](drain_atom) { return sup->drain(); },
      [sup](abort_atom, const std::string& why) {
        sup->end_all(why);
        return true;
      },
      [sup](health_atom) { return sup->health(); },
      [sup](engine_atom) { return sup->first_engine(); },
  };
}

}  // namespace

supervisor_actor spawn_supervisor(caf::actor_system& sys, NodeSettings settings) {
  return sys.spawn(supervisor_behavior, std::move(settings));
}

}  // namespace pio
