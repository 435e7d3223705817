// Anonymous memory for large arrays that every decode step streams (the packed weights): 2 MiB
// aligned, a whole number of 2 MiB pages, and advised for transparent huge pages. In 4 KiB pages
// every 4 KiB read is a TLB miss (a nested page walk in a VM); on this project's reference VM the
// 2B model's 8-sequence decode matmuls took 0.7-0.8x the time from huge pages. Where THP is off
// the advice is ignored and the memory is ordinary.
#pragma once

#include <cstddef>

namespace pio {

class HugePageBuffer {
 public:
  // At least `bytes` of zeroed memory, untouched (no RSS) until written. Throws ModelError
  // (model/errors.h) when the system has no memory to map.
  explicit HugePageBuffer(size_t bytes);
  ~HugePageBuffer();
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;

  std::byte* data() const { return data_; }

 private:
  std::byte* data_ = nullptr;
  size_t size_ = 0;  // bytes mapped: whole 2 MiB pages
};

}  // namespace pio
