#include "gpu/cpu/weight_packing.h"

#include <stdexcept>

#include "gpu/cpu/packed_bf16.h"
#include "gpu/cpu/quant.h"

namespace pio::cpu {

int64_t packed_weight_bytes(WeightFormat format, int64_t rows, int64_t cols) {
  switch (format) {
    case WeightFormat::BF16Packed: return packed_bf16_bytes(rows, cols);
    case WeightFormat::Q8:
    case WeightFormat::Q4: return quantized_bytes(format, rows, cols);
    case WeightFormat::Plain: break;
  }
  throw std::invalid_argument("packed_weight_bytes: Plain is not a packed format");
}

WeightView pack_weight(const WeightView& w, WeightFormat format, void* dst) {
  switch (format) {
    case WeightFormat::BF16Packed: pack_bf16(w, dst); break;
    case WeightFormat::Q8:
    case WeightFormat::Q4: quantize_weight(w, format, dst); break;
    case WeightFormat::Plain: throw std::invalid_argument("pack_weight: Plain is not a packed format");
  }
  return WeightView{w.dtype, dst, w.rows, w.cols, format};
}

}  // namespace pio::cpu
