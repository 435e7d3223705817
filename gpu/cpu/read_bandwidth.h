// A memory read-bandwidth probe: what a thread pool's threads together get streaming a buffer far
// larger than the last-level cache, the ceiling a decode step (which reads every weight once)
// can reach. For `pio bench`, which prints decode's share of it.
#pragma once

#include <cstdint>
#include <vector>

#include "gpu/cpu/thread_pool.h"

namespace pio::cpu {

// Reads a buffer of `bytes` (rounded up to whole 4 MiB tasks; written once beforehand so every
// page is backed) `passes` times, the pool's threads summing its 4 MiB tasks as they take them
// (as the matmul kernels share a step's panels). Returns each pass's read bandwidth in GB/s
// (1e9 bytes per second), in pass order. Throws std::invalid_argument for bytes or passes < 1.
std::vector<double> probe_read_bandwidth(ThreadPool& pool, int64_t bytes, int passes);

}  // namespace pio::cpu
