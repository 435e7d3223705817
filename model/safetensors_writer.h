// Writes .safetensors files (and the sharded index) tensor by tensor, so a multi-GB
// checkpoint never has to sit in memory at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "gpu/dtype.h"

namespace pio {

struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  size_t bytes() const;
};

// fill(spec, out) writes exactly spec.bytes() bytes of tensor data into out.
using TensorFiller = std::function<void(const TensorSpec&, std::vector<unsigned char>& out)>;

// One file holding `tensors` in the given order.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorSpec>& tensors,
                       const TensorFiller& fill);
// The same bytes into a stream; `where` names it in errors.
void write_safetensors(std::ostream& out, const std::string& where, const std::vector<TensorSpec>& tensors,
                       const TensorFiller& fill);

// model.safetensors when everything fits in max_shard_bytes, else model-0000i-of-0000n.safetensors
// files plus model.safetensors.index.json, as Hugging Face shards.
void write_checkpoint_tensors(const std::filesystem::path& dir, const std::vector<TensorSpec>& tensors,
                              uint64_t max_shard_bytes, const TensorFiller& fill);

}  // namespace pio
