// Integers in request bodies, read as vLLM's pydantic models read them: an integer, or a number
// with no fractional part (3.0, as JavaScript clients send).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace pio::http {

// v as an integer in [lo, hi]. Throws ApiError 400 naming param: "PARAM must be an integer" for
// anything else (a string, 1.5, NaN), "PARAM must be in [lo, hi]" outside the range (checked
// before any conversion, so no value beyond int64_t is cast).
int64_t integer_in(const nlohmann::json& v, const std::string& param, int64_t lo, int64_t hi);

}  // namespace pio::http
