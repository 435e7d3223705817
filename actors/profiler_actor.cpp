#include "actors/profiler_actor.h"

#include <caf/typed_event_based_actor.hpp>

namespace pio {

namespace {

// The profiler is a spawn argument: CAF 0.17 dereferences a null argument tuple for actors
// spawned without arguments.
profiler_actor::behavior_type profiler_behavior(std::shared_ptr<Profiler> profiler) {
    return {
        [profiler](const StepStats& s) { profiler->step(s); },
        [profiler](done_atom, const std::string& outcome, const Usage& usage, const StageTimings& t) {
          profiler->finished(outcome, usage);
          for (const auto& [stage, ms] : {std::pair{"queue_wait", t.queue_ms}, {"preprocess", t.preprocess_ms},
                                          {"tokenize", t.tokenize_ms}, {"vision_encode", t.vision_ms},
                                          {"prefill", t.prefill_ms}, {"ttft", t.ttft_ms}})
            if (ms > 0) profiler->stage(stage, ms);
        },
        [profiler](stage_atom, const std::string& stage, double ms) { profiler->stage(stage, ms); },
        [profiler](stats_atom, const std::vector<WorkerStats>& workers, int64_t running, int64_t queued) {
          profiler->load(workers, running, queued);
          return profiler->report(workers, running, queued);
        },
    };
}

}  // namespace

profiler_actor spawn_profiler(caf::actor_system& sys, std::shared_ptr<Profiler> profiler) {
  return sys.spawn(profiler_behavior, std::move(profiler));
}

}  // namespace pio
