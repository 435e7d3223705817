// Launchers of the CUDA attention kernels (gpu/cuda/attention.cu); their arithmetic, and why a
// query row's bits never depend on the batch, is in attention_math.h. Every pointer named
// "device" is device memory; the host copies of sequences and bounds only size the grids. Each
// launcher queues its kernels on `stream`, throws std::invalid_argument for shapes it does not
// take (head_dim > 128, query heads not a multiple of the KV heads, over 65535 sequences, segments
// or blocks of rows) and std::runtime_error when a launch fails.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "gpu/cuda/device_kv.h"

namespace pio::cuda {

// Device floats the flash-decode path of paged_attention needs as `workspace`: one partial
// (m, l, o[head_dim]) per sequence, query head and split of 256 slots when every sequence has at
// most one query (a decode step), else 0 (the prefill kernel needs none). host_seqs: n_seqs
// sequences in host memory (block_table not read).
int64_t paged_attention_workspace_floats(int n_heads, int head_dim, const DeviceSequence* host_seqs, int n_seqs);

// Backend::paged_attention on the device. q and out: device [rows, n_heads · head_dim] floats;
// kv: the layer's device cache. device_seqs: n_seqs sequences in device memory (their block
// tables too); host_seqs: the same n_seqs sequences in host memory, which size the grids (their
// block_table is not read: the caller may upload this very array). A decode step (every
// n_queries <= 1) runs the flash-decode kernel (one CTA per split of 256 slots, group of query
// heads and sequence) and the combine, with `workspace` (device, paged_attention_workspace_floats
// floats); otherwise the prefill kernel (one CTA per 8 (row, query head) pairs) and workspace may
// be null. Both give a row the same bits.
void paged_attention(const float* q, int n_heads, const DeviceKvLayer& kv, const DeviceSequence* device_seqs,
                     const DeviceSequence* host_seqs, int n_seqs, float scale, float* out, float* workspace,
                     cudaStream_t stream);

// Backend::prepare_segment_attention + segment_attention on the device, in one call: full
// attention within each segment [bounds[s], bounds[s + 1]) for the query rows [query_begin,
// query_end). q, k, v: device [rows, heads · head_dim] floats with row stride row_stride (rows
// numbered as in bounds); out: device, row stride out_stride. device_bounds: the n_segments + 1
// bounds in device memory; host_bounds: the same in host memory. A row's bits do not depend on
// query_begin and query_end.
void segment_attention(const float* q, const float* k, const float* v, int64_t row_stride, int heads, int head_dim,
                       const int64_t* device_bounds, const int64_t* host_bounds, int n_segments, float scale,
                       int64_t query_begin, int64_t query_end, float* out, int64_t out_stride, cudaStream_t stream);

}  // namespace pio::cuda
