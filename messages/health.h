// The node's health as /health reports it: the stages that are down (a plug-in stage that
// stopped too often and is held down, no worker joined, admission closed by a drain). Healthy
// when none is.
#pragma once

#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace pio {

struct NodeHealth {
  std::vector<std::string> down;  // names of the stages that are down, e.g. "request filter 1 (libfoo.so)"

  bool healthy() const { return down.empty(); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, NodeHealth& x) {
  return f(caf::meta::type_name("pio::NodeHealth"), x.down);
}

}  // namespace pio
