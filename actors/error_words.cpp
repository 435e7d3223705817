#include "actors/error_words.h"

namespace pio {

std::string error_words(caf::actor_system& system, const caf::error& error) {
  const caf::message& context = error.context();
  if (context.match_elements<std::string>()) return context.get_as<std::string>(0);
  return system.render(error);
}

}  // namespace pio
