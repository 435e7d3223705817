// The CUDA attention and KV-store launchers (gpu/cuda/attention.cu, kv.cu) on the CPU: the same
// grids, every CTA run by HostCta over the kernels' own bodies (gpu/cuda/attention_shape.h,
// kv_math.h). Host memory plays the device's: the CPU tests compare these with references and the
// CPU backend, the device tests compare the real launchers with these bit for bit.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cuda/attention_shape.h"
#include "gpu/cuda/kv_math.h"
#include "tests/gpu/host_cta.h"

namespace pio::cuda::testing {

// store_kv_kernel's grid (n, kv_heads, 2) on the CPU: block (i, h, z) stores row i of k or v.
inline void emulate_store_kv(const PagedKvLayer& kv, const int32_t* table, int64_t first_slot, int64_t n,
                             const float* k, const float* v, bool reversed) {
  const PagedRows rows{table, kv.block_size, kv.kv_heads, kv.row_bytes()};
  float scratch[kStoreThreads];
  for (int64_t i = 0; i < n; ++i)
    for (int h = 0; h < kv.kv_heads; ++h)
      for (int z = 0; z < 2; ++z) {
        const float* x = (z == 1 ? v : k) + (i * kv.kv_heads + h) * kv.head_dim;
        auto* row = static_cast<unsigned char*>(z == 1 ? kv.v : kv.k) + rows.offset(first_slot + i, h);
        store_row(HostCta{kStoreThreads, reversed}, kv.dtype, x, kv.head_dim, row, scratch);
      }
}

// paged_attention's launcher (gpu/cuda/attention.cu) on the CPU: the same grids, every CTA run by
// HostCta. `seqs` hold host block tables (the "device" memory here). decode: the flash-decode
// kernel and the combine (every sequence has at most one query), else the prefill kernel.
inline void emulate_paged_attention(const float* q, int n_heads, const PagedKvLayer& kv,
                                    const std::vector<AttentionSequence>& seqs, float scale, float* out, bool decode,
                                    bool reversed = false) {
  std::vector<DeviceSequence> device_seqs;
  int64_t max_queries = 0, max_splits = 0;
  for (const auto& s : seqs) {
    device_seqs.push_back({s.block_table, s.q_begin, s.n_queries, s.cached_before});
    max_queries = std::max(max_queries, s.n_queries);
    if (s.n_queries > 0) max_splits = std::max(max_splits, attn_splits(s.cached_before + s.n_queries));
  }
  const int group = n_heads / kv.kv_heads, hd = kv.head_dim;
  const int head_blocks = kv.kv_heads * (group / attn_heads_per_cta(group)), z_count = static_cast<int>(seqs.size());
  std::vector<float> smem(static_cast<size_t>(attn_smem_floats(hd)));
  const size_t partial_floats = seqs.size() * static_cast<size_t>(n_heads * max_splits * attn_partial_floats(hd));
  std::vector<float> partials(decode ? partial_floats : 0);
  const PagedAttentionGrid g{q, out, n_heads, hd, static_cast<const unsigned char*>(kv.k),
                             static_cast<const unsigned char*>(kv.v), kv.dtype, kv.block_size, kv.kv_heads,
                             kv.row_bytes(), device_seqs.data(), scale, partials.data(), max_splits};
  const HostCta cta{kAttnThreads, reversed};
  if (decode) {
    if (max_queries > 1)
      throw std::invalid_argument("emulate_paged_attention: a decode step has one query per sequence");
    for (int z = 0; z < z_count; ++z)
      for (int x = 0; x < head_blocks; ++x)
        for (int64_t split = 0; split < max_splits; ++split) paged_decode_split_cta(cta, g, split, x, z, smem.data());
    for (int z = 0; z < z_count; ++z)
      for (int h = 0; h < n_heads; ++h)
        for (int d = 0; d < hd; ++d) paged_decode_combine_thread(g, h, z, d);
    return;
  }
  const int rows = attn_rows_per_cta(group);
  for (int z = 0; z < z_count; ++z)
    for (int64_t y = 0; y < (max_queries + rows - 1) / rows; ++y)
      for (int x = 0; x < head_blocks; ++x) paged_prefill_cta(cta, g, rows, x, y, z, smem.data());
}

// segment_attention's launcher on the CPU.
inline void emulate_segment_attention(const float* q, const float* k, const float* v, int64_t row_stride, int heads,
                                      int head_dim, const std::vector<int64_t>& bounds, float scale,
                                      int64_t query_begin, int64_t query_end, float* out, int64_t out_stride,
                                      bool reversed = false) {
  int64_t longest = 0;
  for (size_t s = 0; s + 1 < bounds.size(); ++s) longest = std::max(longest, bounds[s + 1] - bounds[s]);
  const SegmentAttentionGrid g{q, k, v, out, row_stride, out_stride, head_dim, bounds.data(), scale, query_begin,
                               query_end};
  std::vector<float> smem(static_cast<size_t>(attn_smem_floats(head_dim)));
  for (int s = 0; s + 1 < static_cast<int>(bounds.size()); ++s)
    for (int64_t chunk = 0; chunk < (longest + kAttnMaxQueries - 1) / kAttnMaxQueries; ++chunk)
      for (int h = 0; h < heads; ++h) segment_cta(HostCta{kAttnThreads, reversed}, g, h, chunk, s, smem.data());
}

}  // namespace pio::cuda::testing
