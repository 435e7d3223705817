// Launchers of the CUDA attention kernels (gpu/cuda/attention.cu); their arithmetic, and why a
// query row's bits never depend on the batch, is in attention_math.h. Every pointer named
// "device" is device memory; host spans only size the grids. Each launcher queues its kernels on
// `stream`, throws std::invalid_argument for shapes it does not take (head_dim > 128, query heads
// not a multiple of the KV heads) and std::runtime_error when a launch fails.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>

#include "gpu/backend.h"

namespace pio::cuda {

// Device floats the flash-decode path of paged_attention needs as `workspace`: one partial
// (m, l, o[head_dim]) per sequence, query head and split of 256 slots when every sequence has at
// most one query (a decode step), else 0 (the prefill kernel needs none).
int64_t paged_attention_workspace_floats(int n_heads, int head_dim, std::span<const AttentionSequence> host_seqs);

// Backend::paged_attention on the device. q and out: device [rows, n_heads · head_dim] floats;
// kv.k, kv.v: the layer's device cache. device_seqs: a device array of host_seqs.size()
// AttentionSequence with the same q_begin, n_queries, cached_before as host_seqs and block_table
// pointing to each sequence's block table in device memory (int32, physical block per logical
// block); host_seqs' block_table is not read. A decode step (every n_queries <= 1) runs the
// flash-decode kernel (one CTA per split of 256 slots, KV head and sequence) and the combine,
// with `workspace` (device, paged_attention_workspace_floats floats); otherwise the prefill
// kernel (one CTA per 8 (row, query head) pairs) and workspace may be null. Both give a row the
// same bits.
void paged_attention(const float* q, int n_heads, const PagedKvLayer& kv, const AttentionSequence* device_seqs,
                     std::span<const AttentionSequence> host_seqs, float scale, float* out, float* workspace,
                     cudaStream_t stream);

// Backend::prepare_segment_attention + segment_attention on the device, in one call: full
// attention within each segment [bounds[s], bounds[s + 1]) for the query rows [query_begin,
// query_end). q, k, v: device [rows, heads · head_dim] floats with row stride row_stride (rows
// numbered as in bounds); out: device, row stride out_stride. device_bounds: the segments'
// n_segments + 1 bounds in device memory; host_bounds: the same on the host. A row's bits do
// not depend on query_begin and query_end.
void segment_attention(const float* q, const float* k, const float* v, int64_t row_stride, int heads, int head_dim,
                       const int64_t* device_bounds, std::span<const int64_t> host_bounds, float scale,
                       int64_t query_begin, int64_t query_end, float* out, int64_t out_stride, cudaStream_t stream);

}  // namespace pio::cuda
