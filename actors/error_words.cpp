#include "actors/error_words.h"

namespace pio {

std::optional<std::string> context_text(const caf::message& context) {
  if (context.match_elements<std::string>()) return context.get_as<std::string>(0);
  return std::nullopt;
}

std::string error_words(caf::actor_system& system, const caf::error& error) {
  if (auto text = context_text(error.context())) return *text;
  return system.render(error);
}

}  // namespace pio
