// The plug-in stages of a node, supervised: one actor per request filter and output processor
// of the registry, in registration order, monitored by the supervisor. A stage whose actor
// stops is started again at once, unless it stopped more than RestartBudget allows; then it
// stays down (requests that reach it end with an error naming it) and the node reports itself
// unhealthy (down()).
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <caf/local_actor.hpp>

#include "actors/plugin.h"

namespace pio {

// Whether a stage that stopped may start again: not when it stopped more than max_restarts
// times within the last window_s seconds.
class RestartBudget {
 public:
  explicit RestartBudget(size_t max_restarts = 3, double window_s = 60) : max_(max_restarts), window_s_(window_s) {}
  // Records a stop at now_s (seconds, monotonic); true when the stage may start again.
  bool allow(double now_s);

 private:
  size_t max_;
  double window_s_;
  std::deque<double> stops_;  // within the window
};

class PluginStages {
 public:
  PluginStages() = default;  // none
  explicit PluginStages(std::shared_ptr<const PluginRegistry> registry);

  // Spawns every stage's actor and has `supervisor` monitor it.
  void start(caf::local_actor* supervisor);
  // Stops every stage's actor.
  void stop() const;

  size_t filters() const { return filters_.size(); }
  size_t outputs() const { return outputs_.size(); }
  // A stage's actor (null while it is down) and its name.
  const filter_actor& filter(size_t i) const { return filters_[i].actor; }
  const output_actor& output(size_t i) const { return outputs_[i].actor; }
  const std::string& filter_name(size_t i) const { return filters_[i].stage.name; }
  const std::string& output_name(size_t i) const { return outputs_[i].stage.name; }
  // What a request that reaches a stage that is down is told.
  static std::string down_message(const std::string& name);

  // A down message from `source`: false when it is none of these stages; else the stage starts
  // again (monitored by `supervisor`) or, past its budget, stays down.
  bool on_down(caf::local_actor* supervisor, const caf::actor_addr& source, double now_s);
  // The names of the stages that are down, for /health.
  std::vector<std::string> down() const;

 private:
  template <class T, class Handle>
  struct Stage {
    PluginStage<T> stage;
    Handle actor;
    RestartBudget budget;
  };
  template <class S>
  static bool restart(std::vector<S>& stages, caf::local_actor* supervisor, const caf::actor_addr& source, double now_s);

  std::vector<Stage<RequestFilter, filter_actor>> filters_;
  std::vector<Stage<OutputProcessor, output_actor>> outputs_;
};

}  // namespace pio
