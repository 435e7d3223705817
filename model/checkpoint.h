// The tensors of a Hugging Face model directory: one model.safetensors, or shards listed by
// model.safetensors.index.json. Files stay mapped for the checkpoint's lifetime.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gpu/backend.h"
#include "model/safetensors.h"

namespace pio {

class Checkpoint {
 public:
  // Throws ModelError when the directory has no safetensors, a shard is missing or corrupt.
  explicit Checkpoint(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const TensorInfo* find(const std::string& name) const;
  bool has_prefix(const std::string& prefix) const;
  size_t tensor_count() const { return tensors_.size(); }

  // The tensor as a weight of exactly `shape` (1 or 2 dims) in a float dtype; throws a
  // ModelError that names the tensor when it is missing or does not match.
  WeightView weight(const std::string& name, std::vector<int64_t> shape) const;
  // Gives back the resident pages of a weight from weight() once it has been packed elsewhere.
  void release(const WeightView& w) const;

 private:
  std::filesystem::path dir_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorInfo*> tensors_;
};

std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace pio
