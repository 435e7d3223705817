// Strict reads of the numbers a JSON file gives (config.json, preprocessor_config.json,
// tokenizer.json). nlohmann's get<int>() wraps 2^32 + 5 to 5, truncates 3.7 to 3 and turns a
// float beyond int's range into undefined behaviour, so every number that can size something
// goes through here instead: the exact JSON type first, then a range the error names.
#pragma once

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "model/errors.h"

namespace pio::json_fields {

// `x` as a short decimal (1e-06, 5000000), for error messages.
inline std::string show(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

// The JSON integer `v` (not a float, string or bool) when it lies in [lo, hi]. Throws ModelError
// "<where> has the wrong type: expected an integer, got ..." or "<where> = N is outside the
// allowed range [lo, hi]".
inline int64_t integer_in(const nlohmann::json& v, const std::string& where, int64_t lo, int64_t hi) {
  if (!v.is_number_integer())
    throw ModelError(where + " has the wrong type: expected an integer, got " + v.dump());
  // Non-negative integers parse as unsigned 64-bit: compare them unsigned, never convert first.
  const bool in_range = v.is_number_unsigned() ? hi >= 0 && v.get<uint64_t>() <= static_cast<uint64_t>(hi) &&
                                                     (lo <= 0 || v.get<uint64_t>() >= static_cast<uint64_t>(lo))
                                               : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
  if (!in_range)
    throw ModelError(where + " = " + v.dump() + " is outside the allowed range [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
  return v.is_number_unsigned() ? static_cast<int64_t>(v.get<uint64_t>()) : v.get<int64_t>();
}

// The JSON number `v` (integer or float) when it is finite and lies in [lo, hi]; throws
// ModelError naming `where` and the range otherwise.
inline double number_in(const nlohmann::json& v, const std::string& where, double lo, double hi) {
  if (!v.is_number()) throw ModelError(where + " has the wrong type: expected a number, got " + v.dump());
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    throw ModelError(where + " = " + v.dump() + " is outside the allowed range [" + show(lo) + ", " + show(hi) + "]");
  return x;
}

}  // namespace pio::json_fields
