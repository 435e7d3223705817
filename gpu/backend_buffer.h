// Owns one allocation of a backend's memory (Backend::allocate) and releases it when destroyed.
#pragma once

#include <cstddef>
#include <utility>

#include "gpu/backend.h"

namespace pio {

class BackendBuffer {
 public:
  BackendBuffer() = default;
  // `bytes` of zero-filled backend memory, 256-byte aligned; throws std::bad_alloc.
  BackendBuffer(Backend& backend, size_t bytes) : backend_(&backend), data_(backend.allocate(bytes)), size_(bytes) {}
  ~BackendBuffer() { reset(); }
  BackendBuffer(BackendBuffer&& o) noexcept
      : backend_(o.backend_), data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  BackendBuffer& operator=(BackendBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      backend_ = o.backend_;
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  BackendBuffer(const BackendBuffer&) = delete;
  BackendBuffer& operator=(const BackendBuffer&) = delete;

  // Backend memory: on a device, not addressable from the host (copy with upload/download).
  std::byte* data() const { return static_cast<std::byte*>(data_); }
  size_t size() const { return size_; }

 private:
  void reset() noexcept {
    if (data_) backend_->release(data_);
    data_ = nullptr;
    size_ = 0;
  }

  Backend* backend_ = nullptr;
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace pio
