#include "gpu/cuda/cuda_staging_port.h"

#include "gpu/cuda/cuda_check.h"

namespace pio::cuda {

CudaStagingPort::CudaStagingPort(cudaStream_t stream, int slots) : stream_(stream), slots_(static_cast<size_t>(slots)) {
  for (Slot& s : slots_) {
    const cudaError_t a = cudaEventCreate(&s.start), b = cudaEventCreate(&s.end);
    if (a != cudaSuccess || b != cudaSuccess) {
      destroy_events();
      check(a != cudaSuccess ? a : b, "cudaEventCreate");
    }
  }
}

CudaStagingPort::~CudaStagingPort() { destroy_events(); }

void CudaStagingPort::destroy_events() noexcept {
  for (Slot& s : slots_) {
    if (s.start) cudaEventDestroy(s.start);
    if (s.end) cudaEventDestroy(s.end);
    s.start = s.end = nullptr;
  }
}

void* CudaStagingPort::allocate_pinned(size_t bytes) {
  void* p = nullptr;
  check(cudaHostAlloc(&p, bytes, cudaHostAllocDefault), "cudaHostAlloc (pinned staging buffers)");
  return p;
}

void CudaStagingPort::free_pinned(void* p) noexcept { cudaFreeHost(p); }

void CudaStagingPort::queue(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, int slot) {
  Slot& s = slots_.at(static_cast<size_t>(slot));
  const char* what = kind == cudaMemcpyHostToDevice ? "upload" : "download";
  check(cudaEventRecord(s.start, stream_), what);
  check(cudaMemcpyAsync(dst, src, bytes, kind, stream_), what);
  if (const cudaError_t err = cudaEventRecord(s.end, stream_); err != cudaSuccess) {
    cudaStreamSynchronize(stream_);  // the copy is queued without its fence: let it finish before the slot is free
    check(err, what);
  }
  s.pending = true;
}

void CudaStagingPort::queue_upload(void* dst, const void* pinned, size_t bytes, int slot) {
  queue(dst, pinned, bytes, cudaMemcpyHostToDevice, slot);
}

void CudaStagingPort::queue_download(void* pinned, const void* src, size_t bytes, int slot) {
  queue(pinned, src, bytes, cudaMemcpyDeviceToHost, slot);
}

double CudaStagingPort::wait(int slot) {
  Slot& s = slots_.at(static_cast<size_t>(slot));
  if (!s.pending) return 0;
  s.pending = false;
  check(cudaEventSynchronize(s.end), "staging copy");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, s.start, s.end), "staging copy time");
  return ms / 1e3;
}

}  // namespace pio::cuda
