#include "model/vision_tables.h"

#include <algorithm>
#include <cmath>

namespace pio {
namespace {

// torch.linspace(0, end, steps) in float32, stepping from both ends as torch does.
float linspace_at(float end, int64_t steps, int64_t i) {
  if (steps == 1) return 0.0f;
  const float step = end / static_cast<float>(steps - 1);
  return i < steps / 2 ? step * static_cast<float>(i) : end - step * static_cast<float>(steps - 1 - i);
}

// Visits the patches of one frame in merge-block order, passing (row_index, patch_row, patch_col).
template <class F>
void for_each_patch(const PatchGrid& g, int merge, F&& f) {
  int64_t row = 0;
  for (int64_t br = 0; br < g.h / merge; ++br)
    for (int64_t bc = 0; bc < g.w / merge; ++bc)
      for (int ir = 0; ir < merge; ++ir)
        for (int ic = 0; ic < merge; ++ic) f(row++, br * merge + ir, bc * merge + ic);
}

struct Lerp {
  int64_t lo, hi;
  float frac;
};

// Sample i of n spread over [0, side - 1]: its two table neighbours and the weight of the upper.
Lerp lerp_at(int64_t side, int64_t n, int64_t i) {
  const float x = linspace_at(static_cast<float>(side - 1), n, i);
  const auto lo = static_cast<int64_t>(x);
  return {lo, std::min(lo + 1, side - 1), x - static_cast<float>(lo)};
}

}  // namespace

void interpolate_position_embedding(const float* table, int64_t side, int64_t dim, const PatchGrid& g, int merge,
                                    float* out) {
  const int64_t frame = g.h * g.w;
  for_each_patch(g, merge, [&](int64_t r, int64_t pr, int64_t pc) {
    const Lerp y = lerp_at(side, g.h, pr), x = lerp_at(side, g.w, pc);
    const float w00 = (1 - y.frac) * (1 - x.frac), w01 = (1 - y.frac) * x.frac, w10 = y.frac * (1 - x.frac),
                w11 = y.frac * x.frac;
    const float* p00 = table + (y.lo * side + x.lo) * dim;
    const float* p01 = table + (y.lo * side + x.hi) * dim;
    const float* p10 = table + (y.hi * side + x.lo) * dim;
    const float* p11 = table + (y.hi * side + x.hi) * dim;
    float* o = out + r * dim;
    for (int64_t d = 0; d < dim; ++d) o[d] = w00 * p00[d] + w01 * p01[d] + w10 * p10[d] + w11 * p11[d];
  });
  for (int64_t t = 1; t < g.t; ++t) std::copy(out, out + frame * dim, out + t * frame * dim);
}

void vision_rotary_tables(const PatchGrid& g, int merge, std::span<const float> inv_freq, float* cos, float* sin) {
  const auto quarter = static_cast<int64_t>(inv_freq.size());
  const int64_t half = 2 * quarter, frame = g.h * g.w;
  for_each_patch(g, merge, [&](int64_t r, int64_t pr, int64_t pc) {
    for (int64_t i = 0; i < half; ++i) {
      const auto pos = static_cast<float>(i < quarter ? pr : pc);
      const float angle = pos * inv_freq[static_cast<size_t>(i % quarter)];
      cos[r * half + i] = std::cos(angle);
      sin[r * half + i] = std::sin(angle);
    }
  });
  for (int64_t t = 1; t < g.t; ++t) {
    std::copy(cos, cos + frame * half, cos + t * frame * half);
    std::copy(sin, sin + frame * half, sin + t * frame * half);
  }
}

}  // namespace pio
