// The CPU backend's memory (Backend::allocate / release): anonymous private mappings, so an
// allocation is zero-filled and its pages cost no resident memory until first written (the KV
// cache reserves its whole budget up front and touches blocks as they fill: RSS accounting in the
// supervisor relies on it). A header page in front of each mapping records its size for release.
#pragma once

#include <cstddef>

namespace pio::cpu {

// At least `bytes` (any size, 0 included) of zeroed memory, aligned to the page size (so to 256
// bytes). Throws std::bad_alloc when the system cannot map it.
void* host_allocate(size_t bytes);
// Unmaps memory from host_allocate; null is ignored.
void host_release(void* p) noexcept;

}  // namespace pio::cpu
