// The attention kernels: launch only. Each kernel's body is attention_shape.h's (which CTA does
// what), its arithmetic attention_math.h's.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "gpu/cuda/attention.h"
#include "gpu/cuda/attention_shape.h"
#include "gpu/cuda/cuda_check.h"
#include "gpu/cuda/device_cta.cuh"

namespace pio::cuda {
namespace {

__global__ void paged_prefill_kernel(PagedAttentionGrid g, int rows_per_cta) {
  extern __shared__ float smem[];
  paged_prefill_cta(DeviceCta{}, g, rows_per_cta, static_cast<int>(blockIdx.x), blockIdx.y,
                    static_cast<int>(blockIdx.z), smem);
}

__global__ void paged_decode_split_kernel(PagedAttentionGrid g) {
  extern __shared__ float smem[];
  paged_decode_split_cta(DeviceCta{}, g, blockIdx.x, static_cast<int>(blockIdx.y), static_cast<int>(blockIdx.z), smem);
}

__global__ void paged_decode_combine_kernel(PagedAttentionGrid g) {
  paged_decode_combine_thread(g, static_cast<int>(blockIdx.x), static_cast<int>(blockIdx.y),
                              static_cast<int>(threadIdx.x));
}

__global__ void segment_kernel(SegmentAttentionGrid g) {
  extern __shared__ float smem[];
  segment_cta(DeviceCta{}, g, static_cast<int>(blockIdx.x), blockIdx.y, static_cast<int>(blockIdx.z), smem);
}

void check_head_dim(const char* what, int head_dim) {
  if (head_dim <= 0 || head_dim > kAttnMaxHeadDim)
    throw std::invalid_argument(std::string(what) + ": head_dim " + std::to_string(head_dim) + " is not in [1, " +
                                std::to_string(kAttnMaxHeadDim) + "]");
}

// A failed launch, or an earlier kernel's fault that it is the first to see: BackendError, or
// DeviceLost when the context is gone (the engine then moves its work to the CPU).
void check_launch(const char* what) { check(cudaGetLastError(), what); }

// gridDim.y and gridDim.z are at most 65535.
unsigned grid_dim(const char* what, int64_t n) {
  if (n > 65535)
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(n) + " blocks in one grid dimension");
  return static_cast<unsigned>(n);
}

size_t smem_bytes(int head_dim) { return sizeof(float) * static_cast<size_t>(attn_smem_floats(head_dim)); }

struct SeqExtent {
  int64_t max_queries = 0, max_splits = 0;
};
SeqExtent extent(const DeviceSequence* seqs, int n_seqs) {
  SeqExtent e;
  for (int i = 0; i < n_seqs; ++i) {
    const DeviceSequence& s = seqs[i];
    e.max_queries = std::max(e.max_queries, s.n_queries);
    if (s.n_queries > 0) e.max_splits = std::max(e.max_splits, attn_splits(s.cached_before + s.n_queries));
  }
  return e;
}

}  // namespace

int64_t paged_attention_workspace_floats(int n_heads, int head_dim, const DeviceSequence* host_seqs, int n_seqs) {
  const SeqExtent e = extent(host_seqs, n_seqs);
  if (e.max_queries != 1) return 0;
  return int64_t{n_seqs} * n_heads * e.max_splits * attn_partial_floats(head_dim);
}

void paged_attention(const float* q, int n_heads, const DeviceKvLayer& kv, const DeviceSequence* device_seqs,
                     const DeviceSequence* host_seqs, int n_seqs, float scale, float* out, float* workspace,
                     cudaStream_t stream) {
  if (kv.kv_heads <= 0 || n_heads % kv.kv_heads != 0)
    throw std::invalid_argument("paged_attention: " + std::to_string(n_heads) + " query heads cannot share " +
                                std::to_string(kv.kv_heads) + " KV heads");
  check_head_dim("paged_attention", kv.head_dim);
  const SeqExtent e = extent(host_seqs, n_seqs);
  if (e.max_queries == 0) return;
  const PagedAttentionGrid g{q, out, n_heads, kv.head_dim, static_cast<const unsigned char*>(kv.k),
                             static_cast<const unsigned char*>(kv.v), kv.dtype, kv.block_size, kv.kv_heads,
                             kv_row_bytes(kv.dtype, kv.head_dim), device_seqs, scale, workspace, e.max_splits};
  const int group = n_heads / kv.kv_heads;
  const unsigned head_blocks = grid_dim("paged_attention", kv.kv_heads * (group / attn_heads_per_cta(group)));
  const unsigned seqs = grid_dim("paged_attention", n_seqs);
  if (e.max_queries == 1) {
    if (workspace == nullptr) throw std::invalid_argument("paged_attention: a decode step needs its workspace");
    paged_decode_split_kernel<<<dim3(static_cast<unsigned>(e.max_splits), head_blocks, seqs), kAttnThreads,
                                smem_bytes(kv.head_dim), stream>>>(g);
    check_launch("paged_attention (flash-decode)");
    paged_decode_combine_kernel<<<dim3(static_cast<unsigned>(n_heads), seqs), static_cast<unsigned>(kv.head_dim), 0,
                                  stream>>>(g);
    check_launch("paged_attention (combine)");
    return;
  }
  const int rows = attn_rows_per_cta(group);
  const unsigned row_blocks = grid_dim("paged_attention", (e.max_queries + rows - 1) / rows);
  paged_prefill_kernel<<<dim3(head_blocks, row_blocks, seqs), kAttnThreads, smem_bytes(kv.head_dim), stream>>>(g, rows);
  check_launch("paged_attention (prefill)");
}

void segment_attention(const float* q, const float* k, const float* v, int64_t row_stride, int heads, int head_dim,
                       const int64_t* device_bounds, const int64_t* host_bounds, int n_segments, float scale,
                       int64_t query_begin, int64_t query_end, float* out, int64_t out_stride, cudaStream_t stream) {
  check_head_dim("segment_attention", head_dim);
  if (n_segments < 1 || query_begin >= query_end) return;
  int64_t longest = 0;
  for (int s = 0; s < n_segments; ++s) longest = std::max(longest, host_bounds[s + 1] - host_bounds[s]);
  if (longest == 0) return;
  const SegmentAttentionGrid g{q, k, v, out, row_stride, out_stride, head_dim, device_bounds,
                               scale, query_begin, query_end};
  const dim3 grid(static_cast<unsigned>(heads),
                  grid_dim("segment_attention", (longest + kAttnMaxQueries - 1) / kAttnMaxQueries),
                  grid_dim("segment_attention", n_segments));
  segment_kernel<<<grid, kAttnThreads, smem_bytes(head_dim), stream>>>(g);
  check_launch("segment_attention");
}

}  // namespace pio::cuda
