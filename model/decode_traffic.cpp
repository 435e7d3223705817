#include "model/decode_traffic.h"

#include "gpu/cpu/weight_packing.h"
#include "gpu/dtype.h"

namespace pio {

int64_t stored_weight_bytes(const WeightView& w) {
  if (w.format != WeightFormat::Plain) return cpu::packed_weight_bytes(w.format, w.rows, w.cols);
  return w.rows * w.cols * static_cast<int64_t>(dtype_size(w.dtype));
}

std::vector<std::span<const uint8_t>> decode_weight_ranges(const TextWeights& w) {
  std::vector<std::span<const uint8_t>> ranges;
  const auto add = [&](const WeightView& v) {
    ranges.emplace_back(static_cast<const uint8_t*>(v.data), static_cast<size_t>(stored_weight_bytes(v)));
  };
  add(w.lm_head);
  for (const TextLayerWeights& l : w.layers)
    for (const WeightView* v : {&l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.gate_proj, &l.up_proj, &l.down_proj})
      add(*v);
  return ranges;
}

int64_t decode_weight_bytes(const TextWeights& w) {
  int64_t bytes = 0;
  for (const std::span<const uint8_t> r : decode_weight_ranges(w)) bytes += static_cast<int64_t>(r.size());
  return bytes;
}

}  // namespace pio
