// The safetensors header: a .safetensors file as a checkpoint shard, mapped and parsed; every
// tensor it hands out must lie inside the file and be as large as its shape and dtype say.
#include "fuzz/harness.h"
#include "fuzz/scratch_file.h"
#include "model/safetensors.h"

void pio::fuzz::fuzz_one(std::span<const uint8_t> data) {
  const auto file = SafetensorsFile::open(write_scratch_file("model.safetensors", data) / "model.safetensors");
  for (const auto& [name, t] : file->tensors()) {
    require(t.bytes == static_cast<size_t>(t.numel()) * dtype_size(t.dtype), "tensor bytes = numel x dtype size");
    // Read every byte: a tensor pointing outside the mapping faults here.
    const auto* p = static_cast<const volatile uint8_t*>(t.data);
    uint8_t sum = 0;
    for (size_t i = 0; i < t.bytes; ++i) sum = static_cast<uint8_t>(sum + p[i]);
    (void)sum;
  }
}
