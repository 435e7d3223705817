// Small timing helpers for the benchmark subcommands.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace pio::cli {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace pio::cli
