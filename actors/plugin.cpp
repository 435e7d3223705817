#include "actors/plugin.h"

#include <dlfcn.h>

#include <filesystem>
#include <stdexcept>

#include <caf/typed_event_based_actor.hpp>

#include "actors/error_words.h"
#include "actors/plugin_library.h"

namespace pio {
namespace {

// Runs one call of plug-in code; what it throws becomes the reply's error (see spawn_stage).
template <class Self, class T, class Call>
caf::result<T> guarded(Self* self, T& value, Call call) {
  try {
    call(value);
    return std::move(value);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::runtime_error, std::string(e.what()));
  } catch (...) {
    // The plug-in's state is unknown: this actor stops, and the supervisor decides what next.
    self->quit(caf::exit_reason::unhandled_exception);
    return caf::make_error(caf::exit_reason::unhandled_exception);
  }
}

// A stage's actor: each Message through the plug-in object's `call`, guarded.
template <class Handle, class Atom, class Object, class Message>
Handle spawn_guarded(caf::actor_system& sys, std::shared_ptr<Object> object, void (Object::*call)(Message&)) {
  return sys.spawn(
      [call](typename Handle::pointer self, std::shared_ptr<Object> obj) -> typename Handle::behavior_type {
        return {[self, obj, call](Atom, Message& message) {
          return guarded(self, message, [&](Message& m) { (obj.get()->*call)(m); });
        }};
      },
      std::move(object));
}

}  // namespace

filter_actor spawn_stage(caf::actor_system& sys, const PluginStage<RequestFilter>& stage) {
  return spawn_guarded<filter_actor, filter_atom>(sys, stage.object, &RequestFilter::filter);
}

output_actor spawn_stage(caf::actor_system& sys, const PluginStage<OutputProcessor>& stage) {
  return spawn_guarded<output_actor, output_atom>(sys, stage.object, &OutputProcessor::process);
}

StageFailure stage_failure(const std::string& stage, const caf::error& error, ErrorCode refusal) {
  if (error == caf::sec::runtime_error) {
    const std::string why = context_text(error.context()).value_or("");
    return {refusal, (refusal == ErrorCode::bad_request ? "refused by plug-in " : "plug-in ") + stage + ": " + why};
  }
  if (error == caf::exit_reason::unhandled_exception)
    return {ErrorCode::internal, "plug-in " + stage + " failed (it threw an exception that is not a std::exception)"};
  return {ErrorCode::internal, "plug-in " + stage + " stopped before it answered (" + caf::to_string(error) + ")"};
}

void load_plugins(const std::vector<std::string>& paths, PluginRegistry& registry) {
  for (const auto& path : paths) {
    check_shared_object(path);
    // The file just checked, by its absolute path: a bare name would make dlopen search the
    // system's library path instead (and load another file of that name).
    const std::string file = std::filesystem::absolute(path).string();
    void* library = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) throw std::runtime_error("cannot load plug-in " + path + ": " + dlerror());
    using Entry = void (*)(PluginRegistry&);
    const auto entry = reinterpret_cast<Entry>(dlsym(library, "pio_plugin_register"));
    if (!entry) {
      dlclose(library);
      throw std::runtime_error("plug-in " + path + " has no entry point pio_plugin_register(pio::PluginRegistry&)");
    }
    registry.set_library(std::filesystem::path(path).filename().string());
    try {
      entry(registry);
    } catch (const std::exception& e) {
      throw std::runtime_error("plug-in " + path + ": pio_plugin_register failed: " + e.what());
    } catch (...) {
      throw std::runtime_error("plug-in " + path + ": pio_plugin_register threw an exception that is not a std::exception");
    }
    registry.set_library({});
  }
}

}  // namespace pio
