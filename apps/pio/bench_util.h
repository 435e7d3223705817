// Small timing helpers for the benchmark subcommands.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace pio::cli {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The nearest-rank percentile p (0 < p <= 1) of v: the smallest value with at least p of the
// values at or below it (0 for none). Of two values, p50 is the lower and p99 the higher.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

}  // namespace pio::cli
