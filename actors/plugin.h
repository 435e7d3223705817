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
//                     it may change the text.
//   policy            a SchedulingPolicy under a new name.
// Plug-ins run inside the node with its privileges: load only libraries you trust.
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

class PluginRegistry {
 public:
  void add_request_filter(std::shared_ptr<RequestFilter> filter) { filters_.push_back(std::move(filter)); }
  void add_output_processor(std::shared_ptr<OutputProcessor> processor) { outputs_.push_back(std::move(processor)); }
  // Registers the policy for make_policy (process-wide).
  void add_policy(const std::string& name, PolicyFactory factory) { register_policy(name, std::move(factory)); }

  const std::vector<std::shared_ptr<RequestFilter>>& request_filters() const { return filters_; }
  const std::vector<std::shared_ptr<OutputProcessor>>& output_processors() const { return outputs_; }

 private:
  std::vector<std::shared_ptr<RequestFilter>> filters_;
  std::vector<std::shared_ptr<OutputProcessor>> outputs_;
};

// The actors that run a registry's stages, in registration order.
std::vector<filter_actor> spawn_request_filters(caf::actor_system& sys, const PluginRegistry& registry);
std::vector<output_actor> spawn_output_processors(caf::actor_system& sys, const PluginRegistry& registry);

// Loads each library and calls its entry point, in order. Throws std::runtime_error naming the
// file when a library cannot be loaded or lacks pio_plugin_register. Libraries stay loaded.
void load_plugins(const std::vector<std::string>& paths, PluginRegistry& registry);

}  // namespace pio

extern "C" void pio_plugin_register(pio::PluginRegistry& registry);
