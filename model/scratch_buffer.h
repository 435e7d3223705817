// A float work buffer that grows without zero-filling: a fresh allocation's pages are first
// touched by the pass that writes them, so a large image's page faults (costly in a VM) are
// spread over the pieces of its encode instead of one long stall when the buffers grow.
#pragma once

#include <cstddef>
#include <memory>

namespace pio {

class ScratchBuffer {
 public:
  // Makes room for at least n floats; the contents are unspecified afterwards.
  void resize(size_t n) {
    if (n <= size_) return;
    data_ = std::make_unique_for_overwrite<float[]>(n);
    size_ = n;
  }
  float* data() { return data_.get(); }
  // Returns the memory (to the allocator, which gives a buffer this large back to the system).
  void release() {
    data_.reset();
    size_ = 0;
  }

 private:
  std::unique_ptr<float[]> data_;
  size_t size_ = 0;
};

}  // namespace pio
