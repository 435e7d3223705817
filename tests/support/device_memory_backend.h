// A backend whose memory is apart from the host's, as a device's is: it proves on a machine
// without a GPU that a runner hands the kernels nothing but backend memory and moves everything
// else through upload, download and copy. It computes with the CPU backend on memory it
// allocates itself and checks every pointer an operation takes against its allocations: a
// pointer outside them (the mapped checkpoint, a host vector: what a device could not read), or
// a range running past the end of one, fails the call with std::logic_error naming the
// operation, as does a weight the CUDA backend does not read (the CPU's bf16 panels, a matmul
// bias other than f32). Between operations its memory is unreadable to the host (mprotect PROT_NONE), so
// a host read of device memory (a result read in place) crashes the test instead of passing
// unnoticed. shares_host_memory() is false, so the runners take their device paths.
// fail_from_now() injects a device failure: every later operation and allocation throws
// pio::DeviceLost, as every CUDA call does after an illegal address.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iterator>
#include <map>
#include <sys/mman.h>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpu/backend.h"
#include "gpu/backend_error.h"
#include "gpu/cuda/matmul_rows.h"
#include "gpu/kernel_math.h"
#include "model/weight_placement.h"

namespace test {

class DeviceMemoryBackend final : public pio::Backend {
 public:
  explicit DeviceMemoryBackend(int threads = 2) : cpu_(pio::make_cpu_backend(threads)) {}

  std::string name() const override { return "device-memory(" + cpu_->name() + ")"; }
  // Nothing to report (as the CPU), but a failed device fails here too, as cudaMemGetInfo does.
  MemoryUse device_memory() const override {
    throw_if_failed();
    return {};
  }
  bool shares_host_memory() const override { return false; }

  void* allocate(size_t bytes) override {
    throw_if_failed();
    if (bytes == 0) return nullptr;
    void* p = cpu_->allocate(bytes);
    allocations_[address(p)] = bytes;
    protect(p, bytes, PROT_NONE);
    return p;
  }
  void release(void* p) noexcept override {
    if (p == nullptr) return;
    allocations_.erase(address(p));
    cpu_->release(p);
  }
  void upload(void* dst, const void* src, size_t bytes) override {
    const HostAccess access(*this);
    require(dst, bytes, "upload's destination");
    require_host(src, "upload's source");
    cpu_->upload(dst, src, bytes);
  }
  void download(void* dst, const void* src, size_t bytes) override {
    const HostAccess access(*this);
    require(src, bytes, "download's source");
    require_host(dst, "download's destination");
    cpu_->download(dst, src, bytes);
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    const HostAccess access(*this);
    require(dst, bytes, "copy's destination");
    require(src, bytes, "copy's source");
    cpu_->copy(dst, src, bytes);
  }
  void synchronize() override {
    const HostAccess access(*this);
    cpu_->synchronize();
  }

  void matmul(const float* x, int64_t m, const pio::WeightView& w, const pio::WeightView& bias, float* y) override {
    const HostAccess access(*this);
    floats(x, m * w.cols, "matmul x");
    weight(w, "matmul weight");
    weight(bias, "matmul bias");
    // What the CUDA backend's matmul reads: its own formats, and f32 biases.
    if (w.format == pio::WeightFormat::BF16Packed) throw std::logic_error("matmul weight in the CPU's bf16 panels");
    if (bias.data != nullptr && bias.dtype != pio::DType::F32) throw std::logic_error("matmul bias not in f32");
    floats(y, m * w.rows, "matmul y");
    cpu_->matmul(x, m, w, bias, y);
  }
  // With emulate_free_order_rows, the rows the CUDA backend would give cuBLAS
  // (cuda::fixed_order_rows) take x rounded to bf16 first, as its cuBLAS path does: they get other
  // bits than alone, while the decode rows named by fixed_rows keep theirs.
  void matmul_shared(const float* x, int64_t m, int64_t fixed_rows,
                     std::span<const pio::Backend::MatmulOutput> outputs) override {
    const int64_t fixed = free_order_ ? pio::cuda::fixed_order_rows(m, fixed_rows, false) : m;
    for (const pio::Backend::MatmulOutput& o : outputs) {
      matmul(x, fixed, o.w, o.bias, o.y);
      if (fixed < m) matmul_rounded(x + fixed * o.w.cols, m - fixed, o.w, o.bias, o.y + fixed * o.w.rows);
    }
  }
  // From now on, matmul_shared sums the rows it may in another order than alone, as a device's
  // cuBLAS does (above).
  void emulate_free_order_rows() { free_order_ = true; }

  void rms_norm(const float* x, int64_t rows, int64_t dim, const pio::WeightView& weight_view, float eps,
                float* y) override {
    const HostAccess access(*this);
    floats(x, rows * dim, "rms_norm x");
    weight(weight_view, "rms_norm weight");
    floats(y, rows * dim, "rms_norm y");
    cpu_->rms_norm(x, rows, dim, weight_view, eps, y);
  }
  void layer_norm(const float* x, int64_t rows, int64_t dim, const pio::WeightView& weight_view,
                  const pio::WeightView& bias, float eps, float* y) override {
    const HostAccess access(*this);
    floats(x, rows * dim, "layer_norm x");
    weight(weight_view, "layer_norm weight");
    weight(bias, "layer_norm bias");
    floats(y, rows * dim, "layer_norm y");
    cpu_->layer_norm(x, rows, dim, weight_view, bias, eps, y);
  }
  void rotary(float* x, int64_t rows, int64_t row_stride, int heads, int head_dim, const float* cos,
              const float* sin) override {
    const HostAccess access(*this);
    floats(x, strided(rows, row_stride, int64_t{heads} * head_dim), "rotary x");
    floats(cos, rows * head_dim / 2, "rotary cos");
    floats(sin, rows * head_dim / 2, "rotary sin");
    cpu_->rotary(x, rows, row_stride, heads, head_dim, cos, sin);
  }
  void silu_mul(float* gate, const float* up, int64_t n) override {
    const HostAccess access(*this);
    floats(gate, n, "silu_mul gate");
    floats(up, n, "silu_mul up");
    cpu_->silu_mul(gate, up, n);
  }
  void gelu_tanh(float* x, int64_t n) override {
    const HostAccess access(*this);
    floats(x, n, "gelu_tanh");
    cpu_->gelu_tanh(x, n);
  }
  void gelu_erf(float* x, int64_t n) override {
    const HostAccess access(*this);
    floats(x, n, "gelu_erf");
    cpu_->gelu_erf(x, n);
  }
  void add(float* x, const float* y, int64_t n) override {
    const HostAccess access(*this);
    floats(x, n, "add x");
    floats(y, n, "add y");
    cpu_->add(x, y, n);
  }
  void embed(const pio::WeightView& table, std::span<const int32_t> ids, float* out) override {
    const HostAccess access(*this);
    weight(table, "embed table");
    require_host(ids.data(), "embed ids");
    floats(out, static_cast<int64_t>(ids.size()) * table.cols, "embed out");
    cpu_->embed(table, ids, out);
  }
  void store_kv(const pio::PagedKvLayer& kv, const int32_t* block_table, int64_t first_slot, int64_t n, const float* k,
                const float* v) override {
    const HostAccess access(*this);
    cache(kv, "store_kv");
    ints(block_table, (first_slot + n - 1) / kv.block_size + 1, "store_kv block table");
    floats(k, n * kv.kv_heads * kv.head_dim, "store_kv k");
    floats(v, n * kv.kv_heads * kv.head_dim, "store_kv v");
    cpu_->store_kv(kv, block_table, first_slot, n, k, v);
  }
  void paged_attention(const float* q, int n_heads, const pio::PagedKvLayer& kv,
                       std::span<const pio::AttentionSequence> seqs, float scale, float* out) override {
    const HostAccess access(*this);
    require_host(seqs.data(), "paged_attention sequences");
    cache(kv, "paged_attention");
    int64_t rows = 0;
    for (const pio::AttentionSequence& s : seqs) {
      ints(s.block_table, (s.cached_before + s.n_queries - 1) / kv.block_size + 1, "paged_attention block table");
      rows = std::max(rows, s.q_begin + s.n_queries);
    }
    floats(q, rows * n_heads * kv.head_dim, "paged_attention q");
    floats(out, rows * n_heads * kv.head_dim, "paged_attention out");
    cpu_->paged_attention(q, n_heads, kv, seqs, scale, out);
  }
  void prepare_segment_attention(const float* k, const float* v, int64_t row_stride, int heads, int head_dim,
                                 std::span<const int64_t> segment_bounds) override {
    const HostAccess access(*this);
    require_host(segment_bounds.data(), "segment bounds");
    const int64_t rows = segment_bounds.empty() ? 0 : segment_bounds.back();
    floats(k, strided(rows, row_stride, int64_t{heads} * head_dim), "segment attention k");
    floats(v, strided(rows, row_stride, int64_t{heads} * head_dim), "segment attention v");
    segment_width_ = int64_t{heads} * head_dim;
    cpu_->prepare_segment_attention(k, v, row_stride, heads, head_dim, segment_bounds);
  }
  void segment_attention(const float* q, int64_t row_stride, float scale, int64_t query_begin, int64_t query_end,
                         float* out, int64_t out_stride) override {
    const HostAccess access(*this);
    floats(q, strided(query_end, row_stride, segment_width_), "segment attention q");
    floats(out, strided(query_end, out_stride, segment_width_), "segment attention out");
    cpu_->segment_attention(q, row_stride, scale, query_begin, query_end, out, out_stride);
  }

  // From now on (from any thread) every operation throws pio::DeviceLost.
  void fail_from_now() { failed_ = true; }

  // Bytes allocated and not yet released.
  size_t allocated_bytes() const {
    size_t total = 0;
    for (const auto& [begin, bytes] : allocations_) total += bytes;
    return total;
  }

 private:
  // Opens every allocation to the host while an operation runs (the CPU kernels compute in it).
  class HostAccess {
   public:
    explicit HostAccess(const DeviceMemoryBackend& backend) : backend_(backend) {
      backend_.throw_if_failed();
      backend_.protect_all(PROT_READ | PROT_WRITE);
    }
    ~HostAccess() { backend_.protect_all(PROT_NONE); }
    HostAccess(const HostAccess&) = delete;
    HostAccess& operator=(const HostAccess&) = delete;

   private:
    const DeviceMemoryBackend& backend_;
  };
  static void protect(void* p, size_t bytes, int access) {
    if (mprotect(p, bytes, access) != 0) throw std::runtime_error("mprotect failed");
  }
  void protect_all(int access) const {
    for (const auto& [begin, bytes] : allocations_) protect(reinterpret_cast<void*>(begin), bytes, access);
  }

  void matmul_rounded(const float* x, int64_t m, const pio::WeightView& w, const pio::WeightView& bias, float* y) {
    const HostAccess access(*this);
    floats(x, m * w.cols, "matmul x");
    floats(y, m * w.rows, "matmul y");
    std::vector<float> rounded(x, x + m * w.cols);
    for (float& v : rounded) v = pio::math::bf16_to_f32(pio::math::f32_to_bf16(v));
    cpu_->matmul(rounded.data(), m, w, bias, y);
  }

  void throw_if_failed() const {
    if (failed_) throw pio::DeviceLost("device-memory backend: injected device failure");
  }

  static uintptr_t address(const void* p) { return reinterpret_cast<uintptr_t>(p); }
  // Values that rows of `width` at `stride` apart span.
  static int64_t strided(int64_t rows, int64_t stride, int64_t width) { return rows > 0 ? (rows - 1) * stride + width : 0; }

  // [p, p + bytes) lies inside one allocation.
  void require(const void* p, size_t bytes, const std::string& what) const {
    if (bytes == 0) return;
    auto it = allocations_.upper_bound(address(p));
    if (it == allocations_.begin() || address(p) + bytes > std::prev(it)->first + std::prev(it)->second)
      throw std::logic_error(what + ": " + std::to_string(bytes) + " bytes outside backend memory");
  }
  // p is not backend memory.
  void require_host(const void* p, const std::string& what) const {
    auto it = allocations_.upper_bound(address(p));
    if (it != allocations_.begin() && address(p) < std::prev(it)->first + std::prev(it)->second)
      throw std::logic_error(what + " must be host memory");
  }
  void floats(const float* p, int64_t n, const std::string& what) const {
    require(p, static_cast<size_t>(n) * sizeof(float), what);
  }
  void ints(const int32_t* p, int64_t n, const std::string& what) const {
    require(p, static_cast<size_t>(n) * sizeof(int32_t), what);
  }
  void weight(const pio::WeightView& w, const std::string& what) const {
    if (w.data != nullptr) require(w.data, pio::weight_bytes(w), what);
  }
  void cache(const pio::PagedKvLayer& kv, const std::string& what) const {
    require(kv.k, static_cast<size_t>(kv.row_bytes()), what + " K");
    require(kv.v, static_cast<size_t>(kv.row_bytes()), what + " V");
  }

  std::unique_ptr<pio::Backend> cpu_;
  std::map<uintptr_t, size_t> allocations_;  // start -> bytes
  int64_t segment_width_ = 0;
  std::atomic<bool> failed_{false};
  bool free_order_ = false;
};

}  // namespace test
