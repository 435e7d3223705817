#include "serving/engine_router.h"

#include <algorithm>
#include <stdexcept>

namespace pio {

EngineRouter::EngineRouter(size_t groups) : load_(groups, 0) {
  if (groups == 0) throw std::invalid_argument("engine router: no engine group");
}

size_t EngineRouter::place(uint64_t id) {
  if (const auto g = group_of(id)) return *g;
  const auto g = static_cast<size_t>(std::min_element(load_.begin(), load_.end()) - load_.begin());
  ++load_[g];
  placed_[id] = g;
  return g;
}

std::optional<size_t> EngineRouter::group_of(uint64_t id) const {
  const auto it = placed_.find(id);
  if (it == placed_.end()) return std::nullopt;
  return it->second;
}

void EngineRouter::ended(uint64_t id) {
  const auto it = placed_.find(id);
  if (it == placed_.end()) return;
  --load_[it->second];
  placed_.erase(it);
}

std::vector<uint64_t> EngineRouter::drop_group(size_t g) {
  std::vector<uint64_t> held;
  for (const auto& [id, group] : placed_)
    if (group == g) held.push_back(id);
  for (uint64_t id : held) ended(id);
  std::sort(held.begin(), held.end());
  return held;
}

}  // namespace pio
