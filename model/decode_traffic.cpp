#include "model/decode_traffic.h"

#include "gpu/cpu/weight_packing.h"
#include "gpu/dtype.h"

namespace pio {

int64_t stored_weight_bytes(const WeightView& w) {
  if (w.format != WeightFormat::Plain) return cpu::packed_weight_bytes(w.format, w.rows, w.cols);
  return w.rows * w.cols * static_cast<int64_t>(dtype_size(w.dtype));
}

int64_t decode_weight_bytes(const TextWeights& w) {
  int64_t bytes = stored_weight_bytes(w.lm_head);
  for (const TextLayerWeights& l : w.layers)
    for (const WeightView* v : {&l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.gate_proj, &l.up_proj, &l.down_proj})
      bytes += stored_weight_bytes(*v);
  return bytes;
}

}  // namespace pio
