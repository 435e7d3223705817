// A caf::error in a person's words, for logs and API answers.
#pragma once

#include <optional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>

namespace pio {

// The text of an error context that caf::make_error(code, "text") made (one string); nullopt
// for any other context.
std::optional<std::string> context_text(const caf::message& context);

// The text an actor gave its error (caf::make_error(code, "text"): a context of one string),
// alone; else CAF's rendering of the code (e.g. "system_error(request_timeout)"), which
// http::plain_words turns into words.
std::string error_words(caf::actor_system& system, const caf::error& error);

}  // namespace pio
