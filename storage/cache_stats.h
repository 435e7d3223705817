// Figures of one cache tier, as the profiler and `pio stats` report them. No dependencies, so
// messages/ can carry it.
#pragma once

#include <cstdint>
#include <string>

namespace pio {

struct CacheTierStats {
  std::string tier;              // hot, warm, cold
  int64_t entries = 0;
  int64_t bytes = 0;             // held now
  int64_t limit_bytes = 0;       // its bound
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t evictions = 0;         // hot: dropped from memory; warm: demoted to cold; cold: deleted
  int64_t promotions = 0;        // reads from this tier copied up to hot
  int64_t corrupt_dropped = 0;   // values that failed their checksum, format or model check
};

}  // namespace pio
