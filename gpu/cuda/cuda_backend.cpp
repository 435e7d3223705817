#include "gpu/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "gpu/backend_error.h"
#include "gpu/cuda/attention.h"
#include "gpu/cuda/cuda_check.h"
#include "gpu/cuda/cuda_staging_port.h"
#include "gpu/cuda/device_scratch.h"
#include "gpu/cuda/kernels.h"
#include "gpu/cuda/kv.h"
#include "gpu/cuda/matmul.h"
#include "gpu/cuda/matmul_rows.h"

namespace pio {
namespace {

using cuda::check;

// Pinned staging: 16 slots of 2 MiB (32 MiB page-locked). A step's small uploads (ids, positions,
// block tables, each layer's attention sequences) take a slot each, so the host can run up to 16
// uploads ahead of the device; weights and logits move in 2 MiB chunks, a few under way at once.
constexpr int kStagingSlots = 16;
constexpr size_t kStagingSlotBytes = size_t{2} << 20;

cuda::DeviceKvLayer device_layer(const PagedKvLayer& kv) {
  return {kv.k, kv.v, kv.dtype, kv.block_size, kv.kv_heads, kv.head_dim};
}

// Element-wise and row kernels read Plain F32/BF16/F16 weights only.
void check_plain(const WeightView& w, const char* op) {
  if (w.format != WeightFormat::Plain || !is_float(w.dtype) || w.data == nullptr)
    throw BackendError(std::string("CUDA backend: ") + op + " needs a plain F32, BF16 or F16 weight on the device");
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(const CudaDeviceInfo& info, bool deterministic) : info_(info), deterministic_(deterministic) {
    use_device();
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    if (const cublasStatus_t s = cublasCreate(&cublas_); s != CUBLAS_STATUS_SUCCESS) {
      cudaStreamDestroy(stream_);
      check(s, "cublasCreate");
    }
    try {
      port_ = std::make_unique<cuda::CudaStagingPort>(stream_, kStagingSlots);
      staging_ = std::make_unique<cuda::StagingRing>(*port_, kStagingSlots, kStagingSlotBytes);
    } catch (...) {
      port_.reset();
      cublasDestroy(cublas_);
      cudaStreamDestroy(stream_);
      throw;
    }
  }
  ~CudaBackend() override {
    cudaSetDevice(info_.ordinal);
    cudaStreamSynchronize(stream_);
    staging_.reset();
    port_.reset();
    cublasDestroy(cublas_);
    cudaStreamDestroy(stream_);
  }
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override { return "cuda:" + std::to_string(info_.ordinal) + " " + info_.name; }

  // Zeroed (in stream order) and 256-byte aligned (cudaMalloc's guarantee); nullptr for 0 bytes.
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    use_device();
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, bytes);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the error so that later calls do not report it
      throw std::bad_alloc();
    }
    check(err, "cudaMalloc");
    check(cudaMemsetAsync(p, 0, bytes, stream_), "cudaMemsetAsync");
    return p;
  }
  void release(void* p) noexcept override {
    if (p == nullptr) return;
    cudaSetDevice(info_.ordinal);
    // cudaFree waits for the work that may still use p. A failed free's error is cleared so that
    // the next launch check does not take it for its own (a sticky one comes back anyway).
    if (cudaFree(p) != cudaSuccess) cudaGetLastError();
  }
  // In stream order, after the work queued before it. Returns once src's bytes are in pinned
  // staging buffers (src may then be reused) without waiting for the device, so the host goes on
  // queueing the step's kernels (a step still ends waiting for its logits' download).
  void upload(void* dst, const void* src, size_t bytes) override {
    use_device();
    staging_->upload(dst, src, bytes);
  }
  // After the work queued before it, through the pinned buffers; dst holds the bytes when it returns.
  void download(void* dst, const void* src, size_t bytes) override {
    use_device();
    staging_->download(dst, src, bytes);
  }
  // The device's time on the uploads and downloads waited for so far (each between two events
  // around its copy, not the wait for the work before it).
  double transfer_seconds() const override { return staging_->transfer_seconds(); }
  // In stream order: after the work queued before it, before the work queued after it.
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    use_device();
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_), "copy");
  }
  bool shares_host_memory() const override { return false; }
  // The whole device's use (other processes' included), as cudaMemGetInfo reports it.
  MemoryUse device_memory() const override {
    use_device();
    size_t free_bytes = 0, total_bytes = 0;
    check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    return {total_bytes - free_bytes, total_bytes};
  }
  // Waits for every operation queued so far; throws BackendError (DeviceLost) for a failed kernel.
  void synchronize() override {
    use_device();
    check(cudaStreamSynchronize(stream_), "synchronize");
    staging_->settle();  // counts the finished copies' time
  }

  // Dense Plain weights: the fixed-order GEMV up to kGemvRows rows and the fixed-order GEMM
  // beyond (the GEMV's bits) for the rows that must keep their lone bits, cuBLAS for the others
  // (cuda/matmul_rows.h), or the fixed-order GEMM for a dtype cuBLAS does not multiply on this
  // card. Q8/Q4: the dp4a GEMV over the CPU's panels, fixed-order for every m. The bias must be
  // F32 (or absent).
  void matmul(const float* x, int64_t m, const WeightView& w, const WeightView& bias, float* y) override {
    matmul_rows(x, m, 0, {w, bias, y});
  }
  void matmul_shared(const float* x, int64_t m, int64_t fixed_rows, std::span<const MatmulOutput> outputs) override {
    for (const MatmulOutput& o : outputs) matmul_rows(x, m, fixed_rows, o);
  }

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
  // ids are host memory (the model's token ids), copied into the backend's scratch first.
  void embed(const WeightView& table, std::span<const int32_t> ids, float* out) override {
    check_plain(table, "embed");
    if (ids.empty()) return;
    use_device();
    const auto* d_ids = static_cast<const int32_t*>(ids_.upload(ids.data(), ids.size_bytes(), *staging_));
    cuda::launch_embed(stream_, table.data, table.dtype, table.cols, d_ids, static_cast<int64_t>(ids.size()), out);
    check(cudaGetLastError(), "embed launch");
  }

  // block_table is device memory, as every pointer here.
  void store_kv(const PagedKvLayer& kv, const int32_t* block_table, int64_t first_slot, int64_t n, const float* k,
                const float* v) override {
    use_device();
    cuda::store_kv(device_layer(kv), block_table, first_slot, n, k, v, stream_);
  }
  // seqs is a host span whose block_table pointers are device memory; it is copied to the device.
  void paged_attention(const float* q, int n_heads, const PagedKvLayer& kv, std::span<const AttentionSequence> seqs,
                       float scale, float* out) override {
    if (seqs.empty()) return;
    use_device();
    host_seqs_.clear();
    for (const AttentionSequence& s : seqs)
      host_seqs_.push_back({s.block_table, s.q_begin, s.n_queries, s.cached_before});
    const auto n = static_cast<int>(host_seqs_.size());
    const cuda::DeviceSequence* d_seqs = upload_sequences();
    const int64_t floats = cuda::paged_attention_workspace_floats(n_heads, kv.head_dim, host_seqs_.data(), n);
    auto* ws = floats > 0 ? static_cast<float*>(work_.get(static_cast<size_t>(floats) * sizeof(float))) : nullptr;
    cuda::paged_attention(q, n_heads, device_layer(kv), d_seqs, host_seqs_.data(), n, scale, out, ws, stream_);
  }
  // Keeps the k and v pointers (not a copy: they must stay valid until the last
  // segment_attention) and the segment bounds, on the host and the device.
  void prepare_segment_attention(const float* k, const float* v, int64_t row_stride, int heads, int head_dim,
                                 std::span<const int64_t> segment_bounds) override {
    use_device();
    segments_ = {k, v, row_stride, heads, head_dim,
                 std::vector<int64_t>(segment_bounds.begin(), segment_bounds.end()), nullptr};
    segments_.device_bounds =
        static_cast<const int64_t*>(bounds_.upload(segment_bounds.data(), segment_bounds.size_bytes(), *staging_));
  }
  void segment_attention(const float* q, int64_t row_stride, float scale, int64_t query_begin, int64_t query_end,
                         float* out, int64_t out_stride) override {
    if (segments_.k == nullptr || segments_.host_bounds.size() < 2) throw BackendError("CUDA backend: segment_attention before prepare_segment_attention");
    if (row_stride != segments_.row_stride)
      throw BackendError("CUDA backend: segment_attention's q rows must have the row stride of k and v");
    use_device();
    cuda::segment_attention(q, segments_.k, segments_.v, row_stride, segments_.heads, segments_.head_dim,
                            segments_.device_bounds, segments_.host_bounds.data(),
                            static_cast<int>(segments_.host_bounds.size()) - 1, scale, query_begin, query_end, out,
                            out_stride, stream_);
  }

 private:
  static unsigned dtype_bit(DType dtype) { return 1u << static_cast<unsigned>(dtype); }
  bool cublas_refuses(DType dtype) const { return (cublas_refused_mask_ & dtype_bit(dtype)) != 0; }

  // The CUDA runtime's current device is per host thread: set it on every call.
  void use_device() const { check(cudaSetDevice(info_.ordinal), "cudaSetDevice"); }

  // One output of matmul_shared: rows [0, fixed) through the fixed-order kernels, the rest
  // through cuBLAS (fixed_order_rows says how many; see matmul above).
  void matmul_rows(const float* x, int64_t m, int64_t fixed_rows, const MatmulOutput& o) {
    const WeightView& w = o.w;
    if (o.bias.data != nullptr && (o.bias.dtype != DType::F32 || o.bias.format != WeightFormat::Plain))
      throw BackendError("CUDA backend: matmul needs an F32 bias on the device");
    if (m == 0) return;
    use_device();
    const auto* b = static_cast<const float*>(o.bias.data);
    if (w.format == WeightFormat::Q8 || w.format == WeightFormat::Q4) {
      void* ws = work_.get(static_cast<size_t>(cuda::quant_workspace_bytes(m, w.cols)));
      cuda::launch_gemv_quant(stream_, x, m, w.data, w.format, w.rows, w.cols, b, ws, o.y);
    } else if (w.format == WeightFormat::Plain && is_float(w.dtype)) {
      const int64_t fixed = cuda::fixed_order_rows(m, fixed_rows, deterministic_ || cublas_refuses(w.dtype));
      if (fixed > 0) fixed_order_matmul(x, fixed, w, b, o.y);
      if (fixed < m) cublas_matmul(x + fixed * w.cols, m - fixed, w, b, o.y + fixed * w.rows);
    } else {
      throw BackendError("CUDA backend: matmul reads Plain F32/BF16/F16, Q8 or Q4 weights (not the CPU's packed bf16)");
    }
    check(cudaGetLastError(), "matmul launch");
  }

  // The GEMV in one pass up to kGemvRows rows, else the tiled GEMM with its bits.
  void fixed_order_matmul(const float* x, int64_t m, const WeightView& w, const float* bias, float* y) {
    if (m <= cuda::kGemvRows) cuda::launch_gemv_dense(stream_, x, m, w.data, w.dtype, w.rows, w.cols, bias, y);
    else cuda::launch_gemm_deterministic(stream_, x, m, w.data, w.dtype, w.rows, w.cols, bias, y);
  }

  void cublas_matmul(const float* x, int64_t m, const WeightView& w, const float* bias, float* y) {
    void* ws = work_.get(static_cast<size_t>(cuda::cublas_workspace_bytes(m, w.cols, w.dtype)));
    const cublasStatus_t st = cuda::gemm_cublas(stream_, cublas_, x, m, w.data, w.dtype, w.rows, w.cols, bias, ws, y);
    if (st == CUBLAS_STATUS_NOT_SUPPORTED || st == CUBLAS_STATUS_ARCH_MISMATCH) {
      // cuBLAS has no GEMM for this dtype on this card (bf16 before Ampere may be refused): the
      // fixed-order GEMM reads every dtype, so it takes this call and the later ones.
      cublas_refused_mask_ |= dtype_bit(w.dtype);
      std::cerr << "pio: cuBLAS does not multiply " << dtype_name(w.dtype) << " on " << info_.name << " ("
                << cublasGetStatusName(st) << "): prefill takes the fixed-order GEMM\n";
      cuda::launch_gemm_deterministic(stream_, x, m, w.data, w.dtype, w.rows, w.cols, bias, y);
    } else {
      check(st, "matmul");
    }
  }

  // host_seqs_ on the device. Every layer of a step attends over the same sequences, so the copy
  // made for the first layer serves the others (one upload a step instead of one a layer); nothing
  // else writes seqs_, and the block tables the entries point to are the runner's own buffers.
  const cuda::DeviceSequence* upload_sequences() {
    static_assert(std::has_unique_object_representations_v<cuda::DeviceSequence>, "compared with memcmp");
    const size_t bytes = host_seqs_.size() * sizeof(cuda::DeviceSequence);
    const bool same = d_seqs_ != nullptr && uploaded_seqs_.size() == host_seqs_.size() &&
                      std::memcmp(uploaded_seqs_.data(), host_seqs_.data(), bytes) == 0;
    if (!same) {
      d_seqs_ = nullptr;  // a failed upload below leaves no stale copy behind
      const void* d = seqs_.upload(host_seqs_.data(), bytes, *staging_);
      uploaded_seqs_ = host_seqs_;
      d_seqs_ = static_cast<const cuda::DeviceSequence*>(d);
    }
    return d_seqs_;
  }

  // What prepare_segment_attention keeps for segment_attention.
  struct Segments {
    const float* k = nullptr;
    const float* v = nullptr;
    int64_t row_stride = 0;
    int heads = 0, head_dim = 0;
    std::vector<int64_t> host_bounds;
    const int64_t* device_bounds = nullptr;
  };

  CudaDeviceInfo info_;
  bool deterministic_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::unique_ptr<cuda::CudaStagingPort> port_;
  std::unique_ptr<cuda::StagingRing> staging_;  // host<->device copies through pinned buffers
  cuda::DeviceScratch ids_, seqs_, bounds_, work_;
  unsigned cublas_refused_mask_ = 0;  // dtype_bit of each weight dtype cuBLAS answered NOT_SUPPORTED
  std::vector<cuda::DeviceSequence> host_seqs_;  // paged_attention's sequences, reused
  std::vector<cuda::DeviceSequence> uploaded_seqs_;  // what d_seqs_ holds
  const cuda::DeviceSequence* d_seqs_ = nullptr;      // in seqs_
  Segments segments_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int ordinal, size_t min_free_bytes, bool deterministic) {
  return std::make_unique<CudaBackend>(probe_cuda_device(ordinal, min_free_bytes), deterministic);
}

}  // namespace pio
