#include "gpu/cpu/packed_bf16.h"

#include <cstring>

#include "gpu/cpu/weight_access.h"
#include "gpu/kernel_math.h"

namespace pio::cpu {

void pack_bf16(const WeightView& w, void* dst) {
  const int64_t pairs = packed_bf16_pairs(w.cols), panels = packed_bf16_panels(w.rows);
  auto* out = static_cast<uint16_t*>(dst);
  std::memset(out, 0, static_cast<size_t>(packed_bf16_bytes(w.rows, w.cols)));
  const auto* raw = static_cast<const uint16_t*>(w.data);
  for (int64_t r = 0; r < w.rows; ++r) {
    const PanelAddress at = packed_bf16_panel(r / kPanelWidth, panels, pairs);
    uint16_t* panel = out + at.offset + (r % kPanelWidth) * 2;
    for (int64_t c = 0; c < w.cols; ++c) {
      const int64_t i = r * w.cols + c;
      panel[(c / 2) * at.pair_stride + c % 2] =
          w.dtype == DType::BF16 ? raw[i] : math::f32_to_bf16(weight_at(w, i));
    }
  }
}

}  // namespace pio::cpu
