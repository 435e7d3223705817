#include "http/json_integer.h"

#include <cmath>

#include "http/api_error.h"

namespace pio::http {

int64_t integer_in(const nlohmann::json& v, const std::string& param, int64_t lo, int64_t hi) {
  const auto out_of_range = [&] {
    return ApiError(400, param + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", param);
  };
  int64_t x = 0;
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || d != std::trunc(d)) throw ApiError(400, param + " must be an integer", param);
    if (d < -0x1p63 || d >= 0x1p63) throw out_of_range();  // beyond int64_t: its cast would be undefined
    x = static_cast<int64_t>(d);
  } else {
    if (!v.is_number_integer()) throw ApiError(400, param + " must be an integer", param);
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi)) throw out_of_range();
    x = v.get<int64_t>();
  }
  if (x < lo || x > hi) throw out_of_range();
  return x;
}

}  // namespace pio::http
