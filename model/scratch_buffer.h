// A work buffer of T in a backend's memory that only grows, keeping no contents when it does.
// On the CPU a fresh allocation's pages are first touched by the pass that writes them, so a
// large image's page faults (costly in a VM) are spread over the pieces of its encode instead
// of one long stall when the buffers grow.
#pragma once

#include <cstddef>
#include <memory>

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
    release();  // the old memory goes back before the new is taken
    if (backend_->shares_host_memory()) host_ = std::make_unique_for_overwrite<T[]>(n);
    else device_ = BackendBuffer(*backend_, n * sizeof(T));
    size_ = n;
  }
  // Backend memory (Backend::shares_host_memory says whether the host may read it).
  T* data() const { return host_ ? host_.get() : reinterpret_cast<T*>(device_.data()); }
  size_t size() const { return size_; }
  // Returns the memory to the backend.
  void release() {
    host_.reset();
    device_ = BackendBuffer();
    size_ = 0;
  }

 private:
  Backend* backend_;
  // On host memory the heap's (its blocks are not page-aligned: buffers read and written
  // together do not alias in the caches' sets), else the backend's.
  std::unique_ptr<T[]> host_;
  BackendBuffer device_;
  size_t size_ = 0;
};

using ScratchBuffer = BackendScratch<float>;

}  // namespace pio
