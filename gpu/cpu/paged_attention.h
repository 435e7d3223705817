// Causal attention over the paged KV cache (the text decoder), blocked as flash attention:
// online softmax over KV tiles, several query rows of one KV head group per tile.
#pragma once

#include <span>
#include <vector>

#include "gpu/backend.h"
#include "gpu/cpu/thread_pool.h"

namespace pio::cpu {

// KV positions per tile. Tiles start at multiples of kAttentionTile from slot 0, whatever the
// prefill chunks or cache blocks are.
constexpr int kAttentionTile = 64;
// Query rows of one sequence per task; with the GQA group's query heads they share each tile's
// conversion to float32 (64 rows measured 1.1x faster than 32 on a 4,096-token prefill).
constexpr int kAttentionRowBlock = 64;

// Per-worker buffers (converted K/V tiles, scores, running sums); grown before a call, never
// during one.
using AttentionScratch = std::vector<std::vector<float>>;

// Which multiply-add kernels run: the widest this CPU has (AVX-512's 16 lanes, else AVX2's 8),
// or AVX2's; both give the same bits (paged_attention_task.h), which the tests check.
enum class AttentionLanes { Widest, Avx2 };

// Backend::paged_attention. Each task takes up to kAttentionRowBlock query rows of one sequence
// and every query head of one KV head, and walks the tiles [0, 64), [64, 128), ... of their
// context in order: each tile's K and V rows are converted from the cache's dtype to float32
// once for all those queries, then every query (q row, head) with slots in the tile updates its
// running max m, sum l and output o (flash attention's online softmax, Dao et al. 2022).
//
// Batch invariance: a query's arithmetic is the same whichever queries share its task: every
// score is q·k as one fused multiply-add chain over d = 0..head_dim-1 from 0, scaled; per tile,
// m' = max(m, max of the tile's scores), α = exp(m - m'), p = exp(score - m') over its own
// slots only, l = l·α + (sum of p in a fixed 8-lane tree over the whole tile), o = o·α then
// one fused multiply-add per slot in slot order; at the end o / l. So its bits depend only on
// its q row and the cached K/V: not on the other queries or sequences in the call, on how the
// sequence's KV was prefilled (one chunk, many, token by token: decode is a one-row prefill),
// on the block size or on the thread. Throws std::invalid_argument when n_heads is not a
// multiple of kv.kv_heads.
void paged_attention(ThreadPool& pool, AttentionScratch& scratch, const float* q, int n_heads, const PagedKvLayer& kv,
                     std::span<const AttentionSequence> seqs, float scale, float* out,
                     AttentionLanes lanes = AttentionLanes::Widest);

}  // namespace pio::cpu
