#include "actors/plugin_stages.h"

#include <caf/send.hpp>

namespace pio {

bool RestartBudget::allow(double now_s) {
  stops_.push_back(now_s);
  while (!stops_.empty() && stops_.front() <= now_s - window_s_) stops_.pop_front();
  return stops_.size() <= max_;
}

PluginStages::PluginStages(std::shared_ptr<const PluginRegistry> registry) {
  for (const auto& f : registry->request_filters()) filters_.push_back({f, filter_actor(), RestartBudget()});
  for (const auto& o : registry->output_processors()) outputs_.push_back({o, output_actor(), RestartBudget()});
}

void PluginStages::start(caf::local_actor* supervisor) {
  for (auto& f : filters_) supervisor->monitor(f.actor = spawn_stage(supervisor->system(), f.stage));
  for (auto& o : outputs_) supervisor->monitor(o.actor = spawn_stage(supervisor->system(), o.stage));
}

void PluginStages::stop() const {
  for (const auto& f : filters_) caf::anon_send_exit(f.actor, caf::exit_reason::user_shutdown);
  for (const auto& o : outputs_) caf::anon_send_exit(o.actor, caf::exit_reason::user_shutdown);
}

std::string PluginStages::down_message(const std::string& name) {
  return "plug-in " + name + " is down: it failed too often; restart the node once it is fixed";
}

template <class S>
bool PluginStages::restart(std::vector<S>& stages, caf::local_actor* supervisor, const caf::actor_addr& source,
                           double now_s) {
  for (auto& s : stages) {
    if (!s.actor || s.actor.address() != source) continue;
    s.actor = nullptr;
    if (s.budget.allow(now_s)) supervisor->monitor(s.actor = spawn_stage(supervisor->system(), s.stage));
    return true;
  }
  return false;
}

bool PluginStages::on_down(caf::local_actor* supervisor, const caf::actor_addr& source, double now_s) {
  return restart(filters_, supervisor, source, now_s) || restart(outputs_, supervisor, source, now_s);
}

std::vector<std::string> PluginStages::down() const {
  std::vector<std::string> names;
  for (const auto& f : filters_)
    if (!f.actor) names.push_back(f.stage.name);
  for (const auto& o : outputs_)
    if (!o.actor) names.push_back(o.stage.name);
  return names;
}

}  // namespace pio
