#include "model/rope.h"

#include <cmath>

#include "gpu/kernel_math.h"

namespace pio {

std::vector<float> rope_inverse_frequencies(double theta, int head_dim) {
  std::vector<float> inv(static_cast<size_t>(head_dim / 2));
  for (size_t j = 0; j < inv.size(); ++j) {
    const float exponent = static_cast<float>(2 * j) / static_cast<float>(head_dim);
    inv[j] = 1.0f / std::pow(static_cast<float>(theta), exponent);
  }
  return inv;
}

void mrope_tables(const TextConfig& cfg, std::span<const float> inv_freq, std::span<const Pos3> positions,
                  float* cos, float* sin) {
  const size_t half = inv_freq.size();
  for (size_t r = 0; r < positions.size(); ++r) {
    const Pos3 p = positions[r];
    const int32_t axes[3] = {p.t, p.h, p.w};
    for (size_t j = 0; j < half; ++j) {
      const int axis = math::mrope_axis(static_cast<int>(j), cfg.mrope_section[1], cfg.mrope_section[2]);
      const float angle = static_cast<float>(axes[axis]) * inv_freq[j];
      cos[r * half + j] = std::cos(angle);
      sin[r * half + j] = std::sin(angle);
    }
  }
}

void text_positions(int32_t first, int64_t n, std::vector<Pos3>& out) {
  out.clear();
  for (int64_t i = 0; i < n; ++i) {
    const auto p = static_cast<int32_t>(first + i);
    out.push_back({p, p, p});
  }
}

}  // namespace pio
