#include "model/checkpoint.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "model/errors.h"

namespace pio {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Checkpoint::Checkpoint(const std::filesystem::path& dir) : dir_(dir) {
  std::vector<std::filesystem::path> paths;
  const auto index_path = dir / "model.safetensors.index.json";
  if (std::filesystem::exists(index_path)) {
    std::ifstream in(index_path);
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw ModelError(index_path.string() + ": invalid JSON: " + e.what());
    }
    if (!index.contains("weight_map") || !index["weight_map"].is_object())
      throw ModelError(index_path.string() + ": no weight_map");
    std::set<std::string> shards;
    for (const auto& [name, file] : index["weight_map"].items()) {
      if (!file.is_string()) throw ModelError(index_path.string() + ": weight_map entry for " + name + " is not a file name");
      shards.insert(file.get<std::string>());
    }
    for (const auto& s : shards) paths.push_back(dir / s);
  } else if (std::filesystem::is_directory(dir)) {
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".safetensors") paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
  }
  if (paths.empty()) throw ModelError(dir.string() + ": no .safetensors weights found");
  for (const auto& p : paths) {
    files_.push_back(SafetensorsFile::open(p));
    for (const auto& [name, info] : files_.back()->tensors()) {
      if (!tensors_.emplace(name, &info).second)
        throw ModelError(p.string() + ": tensor '" + name + "' appears in more than one file");
    }
  }
}

const TensorInfo* Checkpoint::find(const std::string& name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second;
}

bool Checkpoint::has_prefix(const std::string& prefix) const {
  const auto it = tensors_.lower_bound(prefix);
  return it != tensors_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

WeightView Checkpoint::weight(const std::string& name, std::vector<int64_t> shape) const {
  const TensorInfo* t = find(name);
  if (!t) throw ModelError(dir_.string() + ": checkpoint lacks tensor '" + name + "' that config.json implies");
  if (t->shape != shape)
    throw ModelError(dir_.string() + ": tensor '" + name + "' has shape " + shape_string(t->shape) +
                     " but config.json implies " + shape_string(shape));
  if (!is_float(t->dtype))
    throw ModelError(dir_.string() + ": tensor '" + name + "' has dtype " + std::string(dtype_name(t->dtype)) +
                     "; weights must be F32, BF16 or F16");
  return WeightView{t->dtype, t->data, shape.size() == 2 ? shape[0] : 1, shape.back()};
}

void Checkpoint::release(const WeightView& w) const {
  for (const auto& f : files_) f->release_pages(w.data, static_cast<size_t>(w.rows * w.cols) * dtype_size(w.dtype));
}

}  // namespace pio
