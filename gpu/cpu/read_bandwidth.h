// A memory read-bandwidth probe: what a thread pool's threads together get streaming memory far
// larger than the last-level cache. `pio bench` streams the very weights a decode step reads
// (the same pages, the same page sizes), so its ceiling is the one decode can reach.
#pragma once

#include <cstdint>
#include <span>

#include "gpu/cpu/thread_pool.h"

namespace pio::cpu {

// Reads every range once: each is cut into 4 MiB pieces that the pool's threads sum as they take
// them (as the matmul kernels share a step's panels); a range's last bytes short of a whole
// 128-byte group are neither read nor counted. Returns the bytes read per second in GB/s (1e9
// bytes). Throws std::invalid_argument when the ranges hold no whole 128-byte group.
double probe_read_bandwidth(ThreadPool& pool, std::span<const std::span<const uint8_t>> ranges);

}  // namespace pio::cpu
