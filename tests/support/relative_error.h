// The error measure of the numerical tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

namespace test {

// max |got - want| / max |want|: the error relative to the output's scale (infinite when the
// sizes differ).
template <class Got, class Want>
double max_relative_error(const Got& got, const Want& want) {
  if (got.size() != want.size()) return std::numeric_limits<double>::infinity();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::abs(double(got[i]) - double(want[i])));
    scale = std::max(scale, std::abs(double(want[i])));
  }
  return diff / scale;
}

}  // namespace test
