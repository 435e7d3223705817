// The example plug-in: an output processor that upper-cases the ASCII letters of every answer,
// so that its effect is plain to see. Build: part of the project (plugins/uppercase); load:
// `pio-node --plugin build/lib/libpio_plugin_uppercase.so`.

#include "actors/plugin.h"

namespace {

class Uppercase final : public pio::OutputProcessor {
 public:
  void process(pio::StreamEvent& event) override {
    for (char& c : event.text)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
};

}  // namespace

extern "C" void pio_plugin_register(pio::PluginRegistry& registry) {
  registry.add_output_processor(std::make_shared<Uppercase>());
}
