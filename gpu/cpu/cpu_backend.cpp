// The CPU backend: owns the compute thread pool and the scratch buffers, and splits each
// kernel's work over the pool.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/attention.h"
#include "gpu/cpu/host_memory.h"
#include "gpu/cpu/kv_rows.h"
#include "gpu/cpu/paged_attention.h"
#include "gpu/cpu/matmul.h"
#include "gpu/cpu/ops.h"
#include "gpu/cpu/thread_pool.h"

namespace pio {
namespace {

constexpr int64_t kElementsPerTask = 1 << 14;

class CpuBackend final : public Backend {
 public:
  CpuBackend(int threads, bool pin) : pool_(threads, pin) {}

  std::string name() const override { return "cpu(" + std::to_string(pool_.size()) + " threads)"; }

  // Host memory (gpu/cpu/host_memory.h); the kernels run synchronously, so copies are memcpy.
  void* allocate(size_t bytes) override { return cpu::host_allocate(bytes); }
  void release(void* p) noexcept override { cpu::host_release(p); }
  void upload(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void download(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void synchronize() override {}
  bool shares_host_memory() const override { return true; }

  void matmul(const float* x, int64_t m, const WeightView& w, const WeightView& bias, float* y) override {
    cpu::matmul(pool_, matmul_scratch_, x, m, w, bias, y);
  }
  // Every row is summed in one order whatever m, so decode rows need nothing of their own.
  void matmul_shared(const float* x, int64_t m, int64_t /*fixed_rows*/, std::span<const MatmulOutput> outputs) override {
    cpu::matmul_shared(pool_, matmul_scratch_, x, m, outputs);
  }

  void rms_norm(const float* x, int64_t rows, int64_t dim, const WeightView& weight, float eps, float* y) override {
    for_rows(rows, dim, [&](int64_t b, int64_t e) { cpu::rms_norm_rows(x, b, e, dim, weight, eps, y); });
  }

  void layer_norm(const float* x, int64_t rows, int64_t dim, const WeightView& weight, const WeightView& bias,
                  float eps, float* y) override {
    for_rows(rows, dim, [&](int64_t b, int64_t e) { cpu::layer_norm_rows(x, b, e, dim, weight, bias, eps, y); });
  }

  void rotary(float* x, int64_t rows, int64_t row_stride, int heads, int head_dim, const float* cos,
              const float* sin) override {
    for_rows(rows, row_stride, [&](int64_t b, int64_t e) {
      cpu::rotary_rows(x, b, e, row_stride, heads, head_dim, cos, sin);
    });
  }

  void silu_mul(float* gate, const float* up, int64_t n) override {
    for_elements(n, [&](int64_t b, int64_t e) { cpu::silu_mul_range(gate, up, b, e); });
  }
  void gelu_tanh(float* x, int64_t n) override {
    for_elements(n, [&](int64_t b, int64_t e) { cpu::gelu_tanh_range(x, b, e); });
  }
  void gelu_erf(float* x, int64_t n) override {
    for_elements(n, [&](int64_t b, int64_t e) { cpu::gelu_erf_range(x, b, e); });
  }
  void add(float* x, const float* y, int64_t n) override {
    for_elements(n, [&](int64_t b, int64_t e) { cpu::add_range(x, y, b, e); });
  }

  void embed(const WeightView& table, std::span<const int32_t> ids, float* out) override {
    for_rows(static_cast<int64_t>(ids.size()), table.cols,
             [&](int64_t b, int64_t e) { cpu::embed_rows(table, ids, b, e, out); });
  }

  void store_kv(const PagedKvLayer& kv, const int32_t* block_table, int64_t first_slot, int64_t n, const float* k,
                const float* v) override {
    cpu::store_kv(kv, block_table, first_slot, n, k, v);
  }

  void paged_attention(const float* q, int n_heads, const PagedKvLayer& kv, std::span<const AttentionSequence> seqs,
                       float scale, float* out) override {
    cpu::paged_attention(pool_, attention_scratch_, q, n_heads, kv, seqs, scale, out);
  }

  void prepare_segment_attention(const float* k, const float* v, int64_t row_stride, int heads, int head_dim,
                                 std::span<const int64_t> segment_bounds) override {
    cpu::pack_segments(pool_, segment_scratch_, k, v, row_stride, heads, head_dim, segment_bounds);
  }

  void segment_attention(const float* q, int64_t row_stride, float scale, int64_t query_begin, int64_t query_end,
                         float* out, int64_t out_stride) override {
    cpu::segment_attention(pool_, segment_scratch_, q, row_stride, scale, query_begin, query_end, out, out_stride);
  }

 private:
  // Splits rows into tasks of about kElementsPerTask values.
  template <class Fn>
  void for_rows(int64_t rows, int64_t row_size, Fn fn) {
    const int64_t per_task = std::max<int64_t>(1, kElementsPerTask / std::max<int64_t>(1, row_size));
    const int64_t tasks = (rows + per_task - 1) / per_task;
    pool_.run(tasks, [&](int64_t t, int) { fn(t * per_task, std::min(rows, (t + 1) * per_task)); });
  }
  template <class Fn>
  void for_elements(int64_t n, Fn fn) { for_rows(n, 1, fn); }

  cpu::ThreadPool pool_;
  cpu::MatmulScratch matmul_scratch_;
  cpu::AttentionScratch attention_scratch_;
  cpu::SegmentScratch segment_scratch_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads, bool pin) { return std::make_unique<CpuBackend>(threads, pin); }

}  // namespace pio
