// The typed interfaces of pio's actors, and the atoms that name their messages. Everything an
// interface carries is a registered, serialisable type (actor_types.h), so any of these actors
// may live in another process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/chat.h"
#include "messages/cluster.h"
#include "messages/events.h"
#include "messages/health.h"
#include "messages/pipeline.h"
#include "messages/stats.h"

namespace pio {

using submit_atom = caf::atom_constant<caf::atom("submit")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using event_atom = caf::atom_constant<caf::atom("event")>;
using tokenize_atom = caf::atom_constant<caf::atom("tokenize")>;
using preprocess_atom = caf::atom_constant<caf::atom("preproc")>;
using enqueue_atom = caf::atom_constant<caf::atom("enqueue")>;
using step_atom = caf::atom_constant<caf::atom("step")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using stage_atom = caf::atom_constant<caf::atom("stage")>;
using preempt_atom = caf::atom_constant<caf::atom("preempt")>;
using admit_atom = caf::atom_constant<caf::atom("admit")>;
using engine_atom = caf::atom_constant<caf::atom("engine")>;
using filter_atom = caf::atom_constant<caf::atom("filter")>;
using output_atom = caf::atom_constant<caf::atom("output")>;
using group_atom = caf::atom_constant<caf::atom("group")>;
using shrink_atom = caf::atom_constant<caf::atom("shrink")>;
using abort_atom = caf::atom_constant<caf::atom("abort")>;
using prefetch_atom = caf::atom_constant<caf::atom("prefetch")>;
using health_atom = caf::atom_constant<caf::atom("health")>;
using join_atom = caf::atom_constant<caf::atom("join")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using report_atom = caf::atom_constant<caf::atom("report")>;
using workers_atom = caf::atom_constant<caf::atom("workers")>;
using replicate_atom = caf::atom_constant<caf::atom("replicate")>;

// A client's receiver of one or more requests' stream events.
using stream_sink = caf::typed_actor<caf::reacts_to<event_atom, StreamEvent>>;

// The node's front door (published on --port): submit a request whose events go to `sink`
// (replies the request id), cancel one, or ask for the profiler's report.
using node_api = caf::typed_actor<caf::replies_to<submit_atom, ChatRequest, stream_sink>::with<uint64_t>,
                                  caf::reacts_to<cancel_atom, uint64_t>,
                                  caf::replies_to<stats_atom>::with<StatsReport>>;

// Where an engine group sends what it produces: its jobs' stream events (the job id in
// request_id), each step's figures, and the full KV blocks of the jobs it was told to replicate.
// The front end it joined.
using engine_events =
    caf::typed_actor<caf::reacts_to<event_atom, StreamEvent>, caf::reacts_to<StepStats>, caf::reacts_to<KvBlocks>>;

// An engine group (batcher + engine, one process; a worker): takes jobs and cancellations; its
// events go to the front end it joined. Memory pressure: preempt the lowest-priority running
// sequence, pause or resume admission, drop the KV blocks retained for prefix caching (shrink).
// KV replicas (serving/kv_replicas.h): `replicate` a job, true: send its full KV blocks, from the
// first, and every later one, as KvBlocks events; false: stop. KvBlocks of another worker's job
// are kept in this group's tiered cache. `step` is its own loop.
using engine_actor = caf::typed_actor<caf::reacts_to<enqueue_atom, EngineJob>,
                                      caf::reacts_to<replicate_atom, uint64_t, bool>,
                                      caf::reacts_to<KvBlocks>,
                                      caf::reacts_to<cancel_atom, uint64_t>,
                                      caf::replies_to<load_atom>::with<EngineLoad>,
                                      caf::reacts_to<preempt_atom>,
                                      caf::reacts_to<shrink_atom>,
                                      caf::reacts_to<admit_atom, bool>,
                                      caf::reacts_to<step_atom>>;

// The router: the seam between the pipeline and compute. Workers join (with a name; it replies
// their id) and leave (it replies the jobs they held, which the caller places again). It places
// each job (with its prefix-cache keys, for the routing policy, and the placement it replaces
// when it moves off a lost worker, else 0) on a worker, or holds it until one joins; sends
// cancellations and memory-pressure orders where they belong; `done` forgets a job's placement;
// `drain` gives a worker no new jobs; `report` takes a worker's load; KvBlocks go on to the job's
// replica worker.
using router_actor = caf::typed_actor<caf::reacts_to<enqueue_atom, EngineJob, std::vector<std::string>, uint64_t>,
                                      caf::reacts_to<KvBlocks>,
                                      caf::reacts_to<cancel_atom, uint64_t>,
                                      caf::reacts_to<done_atom, uint64_t>,
                                      caf::replies_to<load_atom>::with<EngineLoad>,
                                      caf::reacts_to<preempt_atom>,
                                      caf::reacts_to<shrink_atom>,
                                      caf::reacts_to<admit_atom, bool>,
                                      caf::replies_to<join_atom, std::string, engine_actor>::with<uint32_t>,
                                      caf::replies_to<leave_atom, uint32_t>::with<std::vector<uint64_t>>,
                                      caf::reacts_to<drain_atom, uint32_t>,
                                      caf::reacts_to<report_atom, uint32_t, WorkerReport>,
                                      caf::replies_to<workers_atom>::with<std::vector<WorkerStats>>>;

// The front end as workers see it (published on the same port as node_api, which it extends):
// a worker joins with its engine group (refused unless its protocol version and model
// fingerprint equal the front end's; replies the worker's id), reports its load, drains (no new
// jobs), and its engine group sends its events here.
using frontend_api = node_api::extend<caf::replies_to<join_atom, WorkerHello, engine_actor>::with<uint32_t>,
                                      caf::reacts_to<report_atom, uint32_t, WorkerReport>,
                                      caf::reacts_to<drain_atom, uint32_t>,
                                      caf::reacts_to<event_atom, StreamEvent>,
                                      caf::reacts_to<StepStats>,
                                      caf::reacts_to<KvBlocks>>;

// Admission, the pipeline and supervision: the front end, plus the periodic memory and deadline
// check, drain (stop admitting; replies once nothing runs), abort (every request in flight ends
// now with this error; replies when sent), health (the stages that are down, for /health) and,
// for tests and tools, the first worker's engine group.
using supervisor_actor = frontend_api::extend<caf::reacts_to<tick_atom>,
                                              caf::replies_to<drain_atom>::with<bool>,
                                              caf::replies_to<abort_atom, std::string>::with<bool>,
                                              caf::replies_to<health_atom>::with<NodeHealth>,
                                              caf::replies_to<engine_atom>::with<engine_actor>>;

// Tokenizer pool worker: the chat template's ids for a request (one placeholder per image).
using tokenizer_actor = caf::typed_actor<caf::replies_to<tokenize_atom, ChatRequest>::with<PromptTokens>>;

// Preprocessor pool worker: an encoded image and a pixel limit in, the encoder's input out (or,
// on a vision cache hit, the cached features).
using preprocessor_actor =
    caf::typed_actor<caf::replies_to<preprocess_atom, std::vector<uint8_t>, int64_t>::with<PreparedImage>>;

// The cache's reads from disk before a job reaches the engine group, on a thread of their own:
// brings these keys (a job's prefix KV blocks) into the hot tier and replies how many it found.
using prefetch_actor = caf::typed_actor<caf::replies_to<prefetch_atom, std::vector<std::string>>::with<uint64_t>>;


// Plug-in stages (actors/plugin.h): a request filter and an output processor, each in its own actor.
using filter_actor = caf::typed_actor<caf::replies_to<filter_atom, ChatRequest>::with<ChatRequest>>;
using output_actor = caf::typed_actor<caf::replies_to<output_atom, StreamEvent>::with<StreamEvent>>;

// The profiler: stage timings, step figures and outcomes in; the report out.
using profiler_actor = caf::typed_actor<caf::reacts_to<StepStats>,
                                        caf::reacts_to<done_atom, std::string, Usage, StageTimings>,
                                        caf::reacts_to<stage_atom, std::string, double>,
                                        caf::replies_to<stats_atom, std::vector<WorkerStats>, int64_t, int64_t>::with<StatsReport>>;

}  // namespace pio
