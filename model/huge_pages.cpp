#include "model/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <string>

#include "model/errors.h"

namespace pio {
namespace {
constexpr size_t kPageBytes = size_t{2} << 20;
}  // namespace

HugePageBuffer::HugePageBuffer(size_t bytes) : size_((bytes + kPageBytes - 1) / kPageBytes * kPageBytes) {
  if (size_ == 0) return;
  // One page more than asked, so that an aligned start fits; the unaligned ends go back.
  const size_t spare = size_ + kPageBytes;
  void* m = ::mmap(nullptr, spare, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw ModelError("cannot map " + std::to_string(bytes) + " bytes of memory");
  auto* base = static_cast<std::byte*>(m);
  const size_t head = (kPageBytes - reinterpret_cast<uintptr_t>(base) % kPageBytes) % kPageBytes;
  if (head) ::munmap(base, head);
  if (spare - head > size_) ::munmap(base + head + size_, spare - head - size_);
  data_ = base + head;
  ::madvise(data_, size_, MADV_HUGEPAGE);
}

HugePageBuffer::~HugePageBuffer() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace pio
