// The attention and KV-store launchers with gpu/backend.h's types (C++20), for the backend:
// converted to the plain structs the C++17 .cu files take (device_kv.h).
#include <cstddef>
#include <type_traits>
#include <vector>

#include "gpu/cuda/attention.h"
#include "gpu/cuda/kv.h"

namespace pio::cuda {
namespace {

// A device array of AttentionSequence is read by the kernels as DeviceSequence.
static_assert(std::is_standard_layout_v<AttentionSequence> && std::is_standard_layout_v<DeviceSequence>);
static_assert(sizeof(AttentionSequence) == sizeof(DeviceSequence));
static_assert(offsetof(AttentionSequence, block_table) == offsetof(DeviceSequence, block_table));
static_assert(offsetof(AttentionSequence, q_begin) == offsetof(DeviceSequence, q_begin));
static_assert(offsetof(AttentionSequence, n_queries) == offsetof(DeviceSequence, n_queries));
static_assert(offsetof(AttentionSequence, cached_before) == offsetof(DeviceSequence, cached_before));

DeviceKvLayer device_layer(const PagedKvLayer& kv) {
  return {kv.k, kv.v, kv.dtype, kv.block_size, kv.kv_heads, kv.head_dim};
}

std::vector<DeviceSequence> device_sequences(std::span<const AttentionSequence> seqs) {
  std::vector<DeviceSequence> out;
  out.reserve(seqs.size());
  for (const AttentionSequence& s : seqs) out.push_back({s.block_table, s.q_begin, s.n_queries, s.cached_before});
  return out;
}

}  // namespace

void store_kv(const PagedKvLayer& kv, const int32_t* block_table, int64_t first_slot, int64_t n, const float* k,
              const float* v, cudaStream_t stream) {
  store_kv(device_layer(kv), block_table, first_slot, n, k, v, stream);
}

int64_t paged_attention_workspace_floats(int n_heads, int head_dim, std::span<const AttentionSequence> host_seqs) {
  const auto seqs = device_sequences(host_seqs);
  return paged_attention_workspace_floats(n_heads, head_dim, seqs.data(), static_cast<int>(seqs.size()));
}

void paged_attention(const float* q, int n_heads, const PagedKvLayer& kv, const AttentionSequence* device_seqs,
                     std::span<const AttentionSequence> host_seqs, float scale, float* out, float* workspace,
                     cudaStream_t stream) {
  const auto seqs = device_sequences(host_seqs);
  paged_attention(q, n_heads, device_layer(kv), reinterpret_cast<const DeviceSequence*>(device_seqs), seqs.data(),
                  static_cast<int>(seqs.size()), scale, out, workspace, stream);
}

void segment_attention(const float* q, const float* k, const float* v, int64_t row_stride, int heads, int head_dim,
                       const int64_t* device_bounds, std::span<const int64_t> host_bounds, float scale,
                       int64_t query_begin, int64_t query_end, float* out, int64_t out_stride, cudaStream_t stream) {
  if (host_bounds.size() < 2) return;
  segment_attention(q, k, v, row_stride, heads, head_dim, device_bounds, host_bounds.data(),
                    static_cast<int>(host_bounds.size() - 1), scale, query_begin, query_end, out, out_stride, stream);
}

}  // namespace pio::cuda
