#include "fuzz/harness.h"

#include <cstdio>
#include <cstdlib>

#include "model/errors.h"

namespace pio::fuzz {

std::optional<std::string> run_one(std::span<const uint8_t> data) {
  try {
    fuzz_one(data);
    return std::nullopt;
  } catch (const ModelError& e) {
    return std::string(e.what());
  }
}

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz target: accepted input breaks an invariant: %s\n", what);
  std::abort();
}

}  // namespace pio::fuzz
