// pio plug-ins: a shared library that adds stages to a node. It defines one entry point,
//
//   extern "C" void pio_plugin_register(pio::PluginRegistry& registry);
//
// which registers plain objects; the node runs each request filter and output processor in an
// actor of its own at that stage, and adds each policy to the names --policy accepts.
//   request filter    sees every request after admission and before tokenization; it may change
//                     it, or refuse it by throwing std::exception (the request ends with a
//                     bad_request error, the node carries on).
//   output processor  sees every stream event of every request, in order, before the client;
//                     it may change the text. A std::exception ends that request with an
//                     internal error.
//   policy            a SchedulingPolicy under a new name.
// Anything else a stage throws (not a std::exception) ends that request with an internal error
// naming the stage, and the stage's actor stops; the supervisor starts it again, unless it
// stopped too often lately (actors/plugin_stages.h). Plug-ins run inside the node with its
// privileges: load only libraries you trust.
// `pio-node --plugin path.so` loads one (repeatable). See plugins/uppercase for an example.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/interfaces.h"
#include "serving/scheduling_policy.h"

namespace pio {

class RequestFilter {
 public:
  virtual ~RequestFilter() = default;
  virtual void filter(ChatRequest& request) = 0;
};

class OutputProcessor {
 public:
  virtual ~OutputProcessor() = default;
  virtual void process(StreamEvent& event) = 0;
};

// A registered stage and its name in messages, e.g. "request filter 1 (libfoo.so)".
template <class T>
struct PluginStage {
  std::shared_ptr<T> object;
  std::string name;
};

class PluginRegistry {
 public:
  void add_request_filter(std::shared_ptr<RequestFilter> filter) {
    filters_.push_back({std::move(filter), stage_name("request filter", filters_.size())});
  }
  void add_output_processor(std::shared_ptr<OutputProcessor> processor) {
    outputs_.push_back({std::move(processor), stage_name("output processor", outputs_.size())});
  }
  // Registers the policy for make_policy (process-wide).
  void add_policy(const std::string& name, PolicyFactory factory) { register_policy(name, std::move(factory)); }

  const std::vector<PluginStage<RequestFilter>>& request_filters() const { return filters_; }
  const std::vector<PluginStage<OutputProcessor>>& output_processors() const { return outputs_; }

  // The library whose entry point registers the next stages (their names say it).
  void set_library(std::string file_name) { library_ = std::move(file_name); }

 private:
  std::string stage_name(const char* kind, size_t index) const {
    return std::string(kind) + " " + std::to_string(index + 1) + (library_.empty() ? "" : " (" + library_ + ")");
  }

  std::vector<PluginStage<RequestFilter>> filters_;
  std::vector<PluginStage<OutputProcessor>> outputs_;
  std::string library_;
};

// The actor that runs one stage. Its replies: the (changed) request or event; or an error with
// sec::runtime_error and the std::exception's text; or, when the plug-in threw anything else,
// exit_reason::unhandled_exception, after which the actor stops.
filter_actor spawn_stage(caf::actor_system& sys, const PluginStage<RequestFilter>& stage);
output_actor spawn_stage(caf::actor_system& sys, const PluginStage<OutputProcessor>& stage);

// How a request that a stage failed ends: the code (`refusal` for the stage's std::exception,
// internal for anything else) and a message naming the stage. `error` is the stage's reply, or
// CAF's when the stage was gone before it answered.
struct StageFailure {
  ErrorCode code = ErrorCode::internal;
  std::string message;
};
StageFailure stage_failure(const std::string& stage, const caf::error& error, ErrorCode refusal);

// Loads each library and calls its entry point, in order. Each file is checked first
// (check_shared_object), so a truncated or foreign file is refused rather than mapped. Throws
// std::runtime_error naming the file when a library cannot be loaded, lacks
// pio_plugin_register, or its entry point throws (anything). Libraries stay loaded.
void load_plugins(const std::vector<std::string>& paths, PluginRegistry& registry);

}  // namespace pio

extern "C" void pio_plugin_register(pio::PluginRegistry& registry);
