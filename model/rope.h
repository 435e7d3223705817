// Rotary tables for the text decoder: interleaved M-RoPE over (t, h, w) positions.
// For text, t = h = w and this is ordinary 1D rotary.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/config.h"

namespace pio {

struct Pos3 {
  int32_t t = 0, h = 0, w = 0;
};

// inv_freq[j] = theta^(-2j / head_dim), j < head_dim / 2, in float32 as HF computes it.
std::vector<float> rope_inverse_frequencies(double theta, int head_dim);

// cos/sin rows of head_dim / 2 values for every position: slot j takes its angle from the
// axis mrope_axis(j) picks.
void mrope_tables(const TextConfig& cfg, std::span<const float> inv_freq, std::span<const Pos3> positions,
                  float* cos, float* sin);

// Positions p0, p0 + 1, ... on all three axes.
void text_positions(int32_t first, int64_t n, std::vector<Pos3>& out);

}  // namespace pio
