// A work buffer of T in a backend's memory that only grows, keeping no contents when it does.
// On the CPU a fresh allocation's pages are first touched by the pass that writes them, so a
// large image's page faults (costly in a VM) are spread over the pieces of its encode instead
// of one long stall when the buffers grow.
#pragma once

#include <cstddef>

#include "gpu/backend.h"
#include "gpu/backend_buffer.h"

namespace pio {

template <typename T>
class BackendScratch {
 public:
  explicit BackendScratch(Backend& backend) : backend_(&backend) {}

  // Makes room for at least n values; the contents are unspecified afterwards. Throws
  // std::bad_alloc when the backend has no memory for them.
  void resize(size_t n) {
    if (n <= size_) return;
    buffer_ = BackendBuffer();  // the old memory goes back before the new is taken
    size_ = 0;
    buffer_ = BackendBuffer(*backend_, n * sizeof(T));
    size_ = n;
  }
  // Backend memory (Backend::shares_host_memory says whether the host may read it).
  T* data() const { return reinterpret_cast<T*>(buffer_.data()); }
  size_t size() const { return size_; }
  // Returns the memory to the backend.
  void release() {
    buffer_ = BackendBuffer();
    size_ = 0;
  }

 private:
  Backend* backend_;
  BackendBuffer buffer_;
  size_t size_ = 0;
};

using ScratchBuffer = BackendScratch<float>;

}  // namespace pio
