#include "gpu/cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <cstdio>
#include <new>

#include "gpu/backend_error.h"
#include "gpu/cuda/kernels.h"

namespace pio {
namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw BackendError(std::string("CUDA: ") + what + ": " + cudaGetErrorString(err));
}

[[noreturn]] void missing(const char* op) {
  throw BackendError(std::string("CUDA backend: ") + op + " has no device implementation yet (use --device cpu)");
}

// Element-wise and row kernels read Plain F32/BF16/F16 weights only.
void check_plain(const WeightView& w, const char* op) {
  if (w.format != WeightFormat::Plain || !is_float(w.dtype) || w.data == nullptr)
    throw BackendError(std::string("CUDA backend: ") + op + " needs a plain F32, BF16 or F16 weight on the device");
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaDeviceInfo& info) : info_(info) {
    use_device();
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~CudaBackend() override {
    cudaSetDevice(info_.ordinal);
    cudaStreamSynchronize(stream_);
    cudaFree(ids_);
    cudaStreamDestroy(stream_);
  }
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return "cuda:" + std::to_string(info_.ordinal) + " " + info_.name; }

  // bytes of zeroed device memory, 256-byte aligned (cudaMalloc's guarantee); nullptr for 0 bytes.
  // Throws std::bad_alloc when the device has too little memory, BackendError on other errors.
  void* allocate(size_t bytes) {
    if (bytes == 0) return nullptr;
    use_device();
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, bytes);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the sticky-free error so later calls do not see it
      throw std::bad_alloc();
    }
    check(err, "cudaMalloc");
    check(cudaMemsetAsync(p, 0, bytes, stream_), "cudaMemsetAsync");
    return p;
  }
  void release(void* p) noexcept {
    if (p == nullptr) return;
    cudaSetDevice(info_.ordinal);
    cudaFree(p);  // waits for the work that may still use p
  }
  // Host -> device, in order on the stream; src may be reused when it returns.
  void upload(void* dst, const void* src, size_t bytes) {
    use_device();
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "upload");
    check(cudaStreamSynchronize(stream_), "upload");
  }
  // Device -> host after the work queued before it; dst holds the bytes when it returns.
  void download(void* dst, const void* src, size_t bytes) {
    use_device();
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), "download");
    check(cudaStreamSynchronize(stream_), "download");
  }
  // Waits for every operation queued so far; throws BackendError for a failed kernel.
  void synchronize() {
    use_device();
    check(cudaStreamSynchronize(stream_), "synchronize");
  }

  void matmul(const float*, int64_t, const WeightView&, const WeightView&, float*) override { missing("matmul"); }

  void rms_norm(const float* x, int64_t rows, int64_t dim, const WeightView& weight, float eps, float* y) override {
    check_plain(weight, "rms_norm");
    use_device();
    cuda::launch_rms_norm(stream_, x, rows, dim, weight.data, weight.dtype, eps, y);
    check(cudaGetLastError(), "rms_norm launch");
  }
  void layer_norm(const float* x, int64_t rows, int64_t dim, const WeightView& weight, const WeightView& bias,
                  float eps, float* y) override {
    check_plain(weight, "layer_norm");
    check_plain(bias, "layer_norm");
    use_device();
    cuda::launch_layer_norm(stream_, x, rows, dim, weight.data, weight.dtype, bias.data, bias.dtype, eps, y);
    check(cudaGetLastError(), "layer_norm launch");
  }
  void rotary(float* x, int64_t rows, int64_t row_stride, int heads, int head_dim, const float* cos,
              const float* sin) override {
    use_device();
    cuda::launch_rotary(stream_, x, rows, row_stride, heads, head_dim, cos, sin);
    check(cudaGetLastError(), "rotary launch");
  }
  void silu_mul(float* gate, const float* up, int64_t n) override {
    use_device();
    cuda::launch_silu_mul(stream_, gate, up, n);
    check(cudaGetLastError(), "silu_mul launch");
  }
  void gelu_tanh(float* x, int64_t n) override {
    use_device();
    cuda::launch_gelu_tanh(stream_, x, n);
    check(cudaGetLastError(), "gelu_tanh launch");
  }
  void gelu_erf(float* x, int64_t n) override {
    use_device();
    cuda::launch_gelu_erf(stream_, x, n);
    check(cudaGetLastError(), "gelu_erf launch");
  }
  void add(float* x, const float* y, int64_t n) override {
    use_device();
    cuda::launch_add(stream_, x, y, n);
    check(cudaGetLastError(), "add launch");
  }
  // ids are host memory (the model's token ids): copied into a device buffer of the backend first.
  void embed(const WeightView& table, std::span<const int32_t> ids, float* out) override {
    check_plain(table, "embed");
    if (ids.empty()) return;
    use_device();
    if (ids.size() > ids_capacity_) {
      check(cudaStreamSynchronize(stream_), "embed");
      cudaFree(ids_);
      ids_ = nullptr;
      ids_capacity_ = 0;
      check(cudaMalloc(reinterpret_cast<void**>(&ids_), ids.size() * sizeof(int32_t)), "cudaMalloc (token ids)");
      ids_capacity_ = ids.size();
    }
    check(cudaMemcpyAsync(ids_, ids.data(), ids.size_bytes(), cudaMemcpyHostToDevice, stream_), "embed ids");
    cuda::launch_embed(stream_, table.data, table.dtype, table.cols, ids_, static_cast<int64_t>(ids.size()), out);
    check(cudaGetLastError(), "embed launch");
    // The ids buffer is reused by the next call: the copy must have read the host span by then.
    check(cudaStreamSynchronize(stream_), "embed");
  }

  void store_kv(const PagedKvLayer&, const int32_t*, int64_t, int64_t, const float*, const float*) override {
    missing("store_kv");
  }
  void paged_attention(const float*, int, const PagedKvLayer&, std::span<const AttentionSequence>, float,
                       float*) override {
    missing("paged_attention");
  }
  void prepare_segment_attention(const float*, const float*, int64_t, int, int, std::span<const int64_t>) override {
    missing("prepare_segment_attention");
  }
  void segment_attention(const float*, int64_t, float, int64_t, int64_t, float*, int64_t) override {
    missing("segment_attention");
  }

 private:
  // The CUDA runtime's current device is per host thread: set it on every call.
  void use_device() const { check(cudaSetDevice(info_.ordinal), "cudaSetDevice"); }

  CudaDeviceInfo info_;
  cudaStream_t stream_ = nullptr;
  int32_t* ids_ = nullptr;  // embed's token ids on the device
  size_t ids_capacity_ = 0;
};

}  // namespace

std::string CudaDeviceInfo::describe() const {
  char line[320];
  std::snprintf(line, sizeof line, "CUDA device %d: %s, compute capability %d.%d, %.1f GiB free of %.1f GiB", ordinal,
                name.c_str(), major, minor, static_cast<double>(free_bytes) / (1 << 30),
                static_cast<double>(total_bytes) / (1 << 30));
  return line;
}

CudaDeviceInfo probe_cuda_device(int ordinal, size_t min_free_bytes) {
  int count = 0;
  if (const cudaError_t err = cudaGetDeviceCount(&count); err != cudaSuccess)
    throw BackendError(std::string("no usable CUDA device (") + cudaGetErrorString(err) + ")");
  if (ordinal < 0 || ordinal >= count)
    throw BackendError("no CUDA device " + std::to_string(ordinal) + " (" + std::to_string(count) + " found)");
  check(cudaSetDevice(ordinal), "cudaSetDevice");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, ordinal), "cudaGetDeviceProperties");
  CudaDeviceInfo info;
  info.ordinal = ordinal;
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  check(cudaMemGetInfo(&info.free_bytes, &info.total_bytes), "cudaMemGetInfo");
  if (const cudaError_t err = cuda::check_kernel_image(); err != cudaSuccess)
    throw BackendError(info.describe() + ": this build has no kernels for it (" + cudaGetErrorString(err) +
                       "); rebuild with -DPIO_CUDA_ARCHITECTURES=" + std::to_string(info.major * 10 + info.minor));
  if (info.free_bytes < min_free_bytes)
    throw BackendError(info.describe() + ": too little free memory (needs " + std::to_string(min_free_bytes >> 20) +
                       " MiB)");
  return info;
}

std::unique_ptr<Backend> make_cuda_backend(int ordinal, size_t min_free_bytes) {
  return std::make_unique<CudaBackend>(probe_cuda_device(ordinal, min_free_bytes));
}

std::vector<std::string> cuda_missing_operations() {
  return {"matmul", "store_kv", "paged_attention", "prepare_segment_attention", "segment_attention"};
}

}  // namespace pio
