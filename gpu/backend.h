// The compute interface the model is written against. One implementation per device kind:
// `cpu/` and `cuda/`. All activations are float32 row-major; weights stay in their
// checkpoint dtype and are converted inside the kernels.
//
// Batch invariance: every kernel computes each output row (of attention: each query row) by a
// fixed sequence of operations on its own inputs, so its bits never depend on the other rows or
// sequences in the call nor on the number of compute threads. A sequence's logits are then the
// same whatever shares its forward pass and however its prompt is split into chunks
// (tests/model/test_batch_invariance.cpp); new kernels must keep this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "gpu/dtype.h"
#include "gpu/kv_dtype.h"
#include "gpu/kv_layout.h"

namespace pio {

// How a weight matrix's bytes are laid out. Plain is the checkpoint's own row-major layout in
// its dtype; the others are made once at load (gpu/cpu/weight_packing.h) for the matmul kernels.
enum class WeightFormat : uint8_t {
  Plain,
  BF16Packed,  // bf16 values in column panels for the tiled GEMM
  Q8,          // 8-bit integers in blocks of 32 along cols, one scale per block (as Q8_0)
  Q4,          // 4-bit integers in groups of 32 along cols, a scale and a minimum per group
};

// A 2D weight matrix [rows, cols] in PyTorch layout: rows are outputs, cols are inputs,
// so y = x · Wᵀ. A 1D vector (a norm weight, a bias) has rows == 1. rows and cols are the
// logical shape whatever the format; dtype is the checkpoint's element type.
struct WeightView {
  DType dtype = DType::F32;
  const void* data = nullptr;  // aligned to the dtype's size (SafetensorsFile guarantees it), 64 bytes when packed
  int64_t rows = 0;
  int64_t cols = 0;
  WeightFormat format = WeightFormat::Plain;
};

// One layer's share of the paged KV cache: K and V each hold num_blocks blocks of
// block_size slots; slot p (physical: block * block_size + offset) holds kv_heads rows of
// head_dim values in `dtype`, row (p, h) at byte row_offset(p, h) (gpu/kv_layout.h: a block
// holds each head's rows in one run).
struct PagedKvLayer {
  void* k = nullptr;
  void* v = nullptr;
  KvDType dtype = KvDType::F32;
  int block_size = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int64_t row_bytes() const { return kv_row_bytes(dtype, head_dim); }
  // Byte offset in k (or v) of the row (physical slot, KV head): kv_row_offset.
  int64_t row_offset(int64_t phys_slot, int head) const {
    return kv_row_offset(phys_slot, head, block_size, kv_heads, row_bytes());
  }
};

// The queries of one sequence inside a batched attention call.
struct AttentionSequence {
  const int32_t* block_table = nullptr;  // physical block of each logical block
  int64_t q_begin = 0;                   // first row of this sequence in q / out
  int64_t n_queries = 0;
  int64_t cached_before = 0;             // query i sees cache slots [0, cached_before + i]
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // Memory the backend owns: the KV storage, the runners' activations and, on a device, the
  // weights. allocate gives `bytes` of zero-filled memory aligned to 256 bytes, or throws
  // std::bad_alloc; release frees it (null is ignored). The CPU backend maps anonymous pages:
  // untouched, they cost no resident memory until written. upload copies host memory into
  // backend memory, download the reverse, copy from backend memory to backend memory (in order
  // with the kernels); any may be asynchronous on a device, and synchronize waits for everything
  // issued. Every pointer an operation below takes is backend memory unless it says otherwise.
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* p) noexcept = 0;
  virtual void upload(void* dst, const void* src, size_t bytes) = 0;
  virtual void download(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void synchronize() = 0;
  // Whether backend memory is host memory that the host may read and write directly (the CPU):
  // then the runners hand the kernels the mapped weights and read results in place; otherwise
  // (a device) they upload the weights once and move inputs and results with upload/download.
  virtual bool shares_host_memory() const = 0;
  // Device memory in use and in all, in bytes (both 0 for host memory: the supervisor watches
  // that through the process's resident set).
  struct MemoryUse {
    size_t used_bytes = 0;
    size_t total_bytes = 0;
  };
  virtual MemoryUse device_memory() const { return {}; }
  // Seconds the device has spent on upload and download copies since the backend was made, as
  // its own clock measures them (0 for host memory).
  virtual double transfer_seconds() const { return 0; }

  // y[m, w.rows] = x[m, w.cols] · Wᵀ (+ bias[w.rows] when bias.data is set).
  virtual void matmul(const float* x, int64_t m, const WeightView& w, const WeightView& bias, float* y) = 0;
  // One x through several weights of the same cols (attention's q/k/v projections, the MLP's
  // gate/up): each output as matmul(x, m, w, bias, y) gives it, bit for bit. A backend may share
  // the work on x and the threads' job among them (the CPU rounds or quantises x once); this
  // default runs them one after another.
  // Rows [0, fixed_rows) are decode rows: each must have the bits it has alone, whatever m. A
  // backend whose matmul may sum in an order that depends on m (a device's cuBLAS prefill) keeps
  // those rows out of it; the CPU sums every row in one order, so there it changes nothing.
  struct MatmulOutput {
    WeightView w;
    WeightView bias;
    float* y = nullptr;
  };
  virtual void matmul_shared(const float* x, int64_t m, int64_t fixed_rows, std::span<const MatmulOutput> outputs) {
    (void)fixed_rows;  // this default is for backends whose matmul keeps every row's bits
    for (const MatmulOutput& o : outputs) matmul(x, m, o.w, o.bias, o.y);
  }
  // Per row of `dim` values: y = x / sqrt(mean(x²) + eps) * weight.
  virtual void rms_norm(const float* x, int64_t rows, int64_t dim, const WeightView& weight, float eps,
                        float* y) = 0;
  // Per row: y = (x - mean) / sqrt(var + eps) * weight + bias.
  virtual void layer_norm(const float* x, int64_t rows, int64_t dim, const WeightView& weight,
                          const WeightView& bias, float eps, float* y) = 0;
  // Rotates `heads` heads of each of `rows` rows in place (rotate_half pairs i, i + head_dim/2).
  // cos/sin hold head_dim/2 values per row; row r of x starts at r * row_stride.
  virtual void rotary(float* x, int64_t rows, int64_t row_stride, int heads, int head_dim, const float* cos,
                      const float* sin) = 0;
  // gate[i] = silu(gate[i]) * up[i]
  virtual void silu_mul(float* gate, const float* up, int64_t n) = 0;
  virtual void gelu_tanh(float* x, int64_t n) = 0;
  virtual void gelu_erf(float* x, int64_t n) = 0;
  // x[i] += y[i]
  virtual void add(float* x, const float* y, int64_t n) = 0;
  // out[i] = table row ids[i], converted to float. ids are host memory.
  virtual void embed(const WeightView& table, std::span<const int32_t> ids, float* out) = 0;
  // Stores n rows of k and v (kv_heads * head_dim floats each) into cache slots
  // [first_slot, first_slot + n), converted to the cache's dtype (PagedKvLayer).
  virtual void store_kv(const PagedKvLayer& kv, const int32_t* block_table, int64_t first_slot, int64_t n,
                        const float* k, const float* v) = 0;
  // Causal attention over the paged cache; q and out are [rows, n_heads * head_dim].
  // Query head h reads KV head h / (n_heads / kv_heads). The cache is read in its own dtype.
  // seqs is host memory; each sequence's block_table (as store_kv's) is backend memory.
  virtual void paged_attention(const float* q, int n_heads, const PagedKvLayer& kv,
                               std::span<const AttentionSequence> seqs, float scale, float* out) = 0;
  // Full (non-causal) attention within each segment [begin, end) of rows: the vision encoder's
  // per-image blocks. In two calls, so that a large image's queries can be split over several:
  // prepare_segment_attention keeps k and v ([rows, heads * head_dim], row stride row_stride)
  // in the backend; segment_attention then writes the output rows [query_begin, query_end)
  // from q (the same layout) to out. A row's result does not depend on how the rows are split.
  // segment_bounds is host memory.
  virtual void prepare_segment_attention(const float* k, const float* v, int64_t row_stride, int heads,
                                         int head_dim, std::span<const int64_t> segment_bounds) = 0;
  virtual void segment_attention(const float* q, int64_t row_stride, float scale, int64_t query_begin,
                                 int64_t query_end, float* out, int64_t out_stride) = 0;
};

// The CPU backend with `threads` compute threads (0: all cores), each bound to its own core when
// `pin` is set.
std::unique_ptr<Backend> make_cpu_backend(int threads, bool pin = false);

}  // namespace pio
