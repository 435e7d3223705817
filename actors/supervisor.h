// The supervisor: the node's front end. It spawns and monitors the front end's actors (tokenizer
// and preprocessor pools, the router, the profiler, plug-in stages) and restarts one that dies.
// Workers (engine groups, in this process or others) join it through the router; it monitors
// each, and when one is lost (killed, frozen, cut off: its proxy goes down) the requests it held
// move to another worker, which resumes each from the ids its stream delivered, so the client
// sees one uninterrupted stream. It admits requests against the memory budget (Admission), runs
// each through the pipeline (text tokenized while its images are preprocessed, joined into one
// EngineJob by the RequestTable), forwards the workers' events to the client's sink, and ends
// requests whose deadline passes or whose client goes away. Above the hard threshold it asks the
// workers to preempt and pauses their admission.
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
  // The in-process worker's engine group (role all). Without engine.weights the node is a front
  // end only (workers join from other processes); engine.tokenizer is the front end's tokenizer.
  EngineSettings engine;
  std::shared_ptr<const ModelConfig> config;  // the checkpoint's; default: engine.weights'
  std::string fingerprint;           // workers must present the same (storage/fingerprint.h)
  std::string router = "least_loaded";  // the routing policy (serving/routing_policy.h)
  bool kv_replicas = true;           // copy each job's KV blocks to a second worker (serving/kv_replicas.h)
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
