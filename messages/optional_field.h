// std::optional<T> inside a message: CAF 0.17 serialises caf::optional, not std::optional, so an
// inspect() overload names the field as optional_field(x.member): a flag, then the value if set.
#pragma once

#include <optional>

#include <caf/detail/scope_guard.hpp>
#include <caf/optional.hpp>

namespace pio {

template <class T>
struct OptionalField {
  std::optional<T>& value;
};

template <class T>
OptionalField<T> optional_field(std::optional<T>& value) {
  return {value};
}

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, OptionalField<T>& x) {
  caf::optional<T> wire = x.value ? caf::optional<T>(*x.value) : caf::optional<T>(caf::none);
  if constexpr (Inspector::writes_state) {
    auto store = caf::detail::make_scope_guard([&] { x.value = wire ? std::optional<T>(*wire) : std::nullopt; });
    return f(wire);
  } else {
    return f(wire);
  }
}

}  // namespace pio
