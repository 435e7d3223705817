#include "actors/plugin.h"

#include <dlfcn.h>

#include <stdexcept>

#include <caf/typed_event_based_actor.hpp>

namespace pio {

std::vector<filter_actor> spawn_request_filters(caf::actor_system& sys, const PluginRegistry& registry) {
  std::vector<filter_actor> out;
  for (const auto& filter : registry.request_filters()) {
    out.push_back(sys.spawn([](std::shared_ptr<RequestFilter> filter) -> filter_actor::behavior_type {
      return {[filter](filter_atom, ChatRequest& request) -> caf::result<ChatRequest> {
        try {
          filter->filter(request);
          return std::move(request);
        } catch (const std::exception& e) {
          return caf::make_error(caf::sec::runtime_error, std::string("refused by a plug-in: ") + e.what());
        }
      }};
    }, filter));
  }
  return out;
}

std::vector<output_actor> spawn_output_processors(caf::actor_system& sys, const PluginRegistry& registry) {
  std::vector<output_actor> out;
  for (const auto& processor : registry.output_processors()) {
    out.push_back(sys.spawn([](std::shared_ptr<OutputProcessor> processor) -> output_actor::behavior_type {
      return {[processor](output_atom, StreamEvent& event) -> caf::result<StreamEvent> {
        try {
          processor->process(event);
          return std::move(event);
        } catch (const std::exception& e) {
          return caf::make_error(caf::sec::runtime_error, std::string("plug-in output processor: ") + e.what());
        }
      }};
    }, processor));
  }
  return out;
}

void load_plugins(const std::vector<std::string>& paths, PluginRegistry& registry) {
  for (const auto& path : paths) {
    void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) throw std::runtime_error("cannot load plug-in " + path + ": " + dlerror());
    using Entry = void (*)(PluginRegistry&);
    const auto entry = reinterpret_cast<Entry>(dlsym(library, "pio_plugin_register"));
    if (!entry) {
      dlclose(library);
      throw std::runtime_error("plug-in " + path + " has no entry point pio_plugin_register(pio::PluginRegistry&)");
    }
    entry(registry);
  }
}

}  // namespace pio
