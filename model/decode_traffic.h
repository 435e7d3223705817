// The weight bytes a text decode step reads, to set a decode rate against the memory bandwidth.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "gpu/backend.h"
#include "model/text_weights.h"

namespace pio {

// Bytes the matrix w takes as stored: rows x cols x the dtype's size when Plain, else its packed
// or quantised size (cpu::packed_weight_bytes, panel padding included).
int64_t stored_weight_bytes(const WeightView& w);

// Bytes of weights one decode step (one token) reads: every layer's seven projection matrices
// and lm_head, as stored (stored_weight_bytes). The norm vectors and the one embedding row a
// token looks up are left out (under 0.01% of the 2B model's traffic); so is the vision tower,
// which decode never runs.
int64_t decode_weight_bytes(const TextWeights& w);

// The memory of those same matrices, one byte range each (stored_weight_bytes long): what
// `pio bench` streams to probe the read bandwidth decode can reach.
std::vector<std::span<const uint8_t>> decode_weight_ranges(const TextWeights& w);

}  // namespace pio
