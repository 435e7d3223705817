// Element types of weights and tensors as they appear in checkpoints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pio {

enum class DType : uint8_t { F32, BF16, F16, I32, I64 };

size_t dtype_size(DType t);
// The safetensors spelling: "F32", "BF16", "F16", "I32", "I64".
std::string_view dtype_name(DType t);
// Returns false for a name pio does not read.
bool parse_dtype(std::string_view name, DType& out);
bool is_float(DType t);

}  // namespace pio
