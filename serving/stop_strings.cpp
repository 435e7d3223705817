#include "serving/stop_strings.h"

#include <algorithm>
#include <utility>

namespace pio {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

std::string StopStringMatcher::push(std::string_view delta) {
  if (stopped_) return {};
  // pending_ holds only the held-back tail of earlier deltas, so a search of it all is cheap.
  pending_.append(delta);
  size_t first = std::string::npos;
  for (const auto& stop : stops_) {
    const size_t at = pending_.find(stop);
    if (at < first) {
      first = at;
      matched_ = stop;
    }
  }
  std::string out;
  if (first != std::string::npos) {
    stopped_ = true;
    out = pending_.substr(0, first);
    pending_.clear();
    return out;
  }
  const size_t keep = held_back();
  out = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StopStringMatcher::finish() {
  if (stopped_) return {};
  return std::exchange(pending_, {});
}

size_t StopStringMatcher::held_back() const {
  size_t longest = 0;
  for (const auto& stop : stops_) {
    // The longest suffix of pending_ shorter than the stop string that starts it.
    for (size_t n = std::min(stop.size() - 1, pending_.size()); n > longest; --n) {
      if (pending_.compare(pending_.size() - n, n, stop, 0, n) == 0) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}

}  // namespace pio
