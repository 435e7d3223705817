// The supervisor: the node's hub. It spawns and monitors every actor of the node (tokenizer
// and preprocessor pools, the engine group, the profiler) and restarts one that dies, ending
// the requests it held with an error event. It admits requests against the memory budget
// (Admission), runs each through the pipeline (the text tokenized while its images are
// preprocessed, in parallel, joined into one EngineJob for the engine group), forwards the
// engine's events to the client's sink, and ends requests whose deadline passes or whose client
// goes away. Above the hard threshold it asks the engine to preempt and pauses its admission.
#pragma once

#include <functional>
#include <memory>

#include <caf/actor_system.hpp>

#include "actors/engine_actor.h"
#include "actors/interfaces.h"
#include "actors/plugin.h"
#include "model/image/preprocessor_config.h"
#include "serving/admission.h"
#include "serving/profiler.h"

namespace pio {

struct NodeSettings {
  EngineSettings engine;
  PreprocessorConfig preprocessor;
  int64_t max_pixels = 0;            // per image, the node's cap (0: the preprocessor config's)
  size_t tokenizer_workers = 2;
  size_t preprocessor_workers = 2;
  AdmissionLimits admission;
  int32_t max_tokens_limit = 32768;  // the largest max_tokens a request may ask
  double tick_s = 0.05;              // deadline and memory checks
  std::function<double()> memory_mb; // memory in use for the thresholds; default: process RSS
  std::shared_ptr<Profiler> profiler;
  std::shared_ptr<const PluginRegistry> plugins;  // stages added by plug-ins; may be null
};

supervisor_actor spawn_supervisor(caf::actor_system& sys, NodeSettings settings);

}  // namespace pio
