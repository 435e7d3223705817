#include "gpu/cpu/host_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <new>

namespace pio::cpu {
namespace {

size_t page_size() {
  static const auto size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

}  // namespace

void* host_allocate(size_t bytes) {
  const size_t header = page_size();
  if (bytes > SIZE_MAX - header) throw std::bad_alloc();
  const size_t total = header + bytes;
  void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) throw std::bad_alloc();
  *static_cast<size_t*>(base) = total;  // touches the header page only
  return static_cast<std::byte*>(base) + header;
}

void host_release(void* p) noexcept {
  if (!p) return;
  std::byte* base = static_cast<std::byte*>(p) - page_size();
  munmap(base, *reinterpret_cast<const size_t*>(base));
}

}  // namespace pio::cpu
