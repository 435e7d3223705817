#include "model/safetensors_writer.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/errors.h"

namespace pio {

size_t TensorSpec::bytes() const {
  size_t n = dtype_size(dtype);
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorSpec>& tensors,
                       const TensorFiller& fill) {
  // Written beside and renamed over the old file: a process that maps the old one (a running
  // pio-node) keeps reading it, where a rewrite in place would truncate its mapping (SIGBUS).
  const std::filesystem::path partial = path.string() + ".partial-" + std::to_string(::getpid());
  try {
    {
      std::ofstream out(partial, std::ios::binary | std::ios::trunc);
      if (!out) throw ModelError(path.string() + ": cannot write");
      write_safetensors(out, path.string(), tensors, fill);
      out.close();
      if (!out) throw ModelError(path.string() + ": write failed (disk full?)");
    }
    std::filesystem::rename(partial, path);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
    throw;
  }
}

void write_safetensors(std::ostream& out, const std::string& where, const std::vector<TensorSpec>& tensors,
                       const TensorFiller& fill) {
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes()}}};
    offset += t.bytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps tensor data 8-byte aligned
  const uint64_t len = text.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  std::vector<unsigned char> buf;
  for (const auto& t : tensors) {
    buf.assign(t.bytes(), 0);
    fill(t, buf);
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
  }
  if (!out) throw ModelError(where + ": write failed (disk full?)");
}

void write_checkpoint_tensors(const std::filesystem::path& dir, const std::vector<TensorSpec>& tensors,
                              uint64_t max_shard_bytes, const TensorFiller& fill) {
  std::vector<std::vector<TensorSpec>> shards(1);
  uint64_t shard_bytes = 0, total = 0;
  for (const auto& t : tensors) {
    if (!shards.back().empty() && shard_bytes + t.bytes() > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(t);
    shard_bytes += t.bytes();
    total += t.bytes();
  }
  if (shards.size() == 1) {
    write_safetensors(dir / "model.safetensors", tensors, fill);
    return;
  }
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = nlohmann::ordered_json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    write_safetensors(dir / name, shards[i], fill);
    for (const auto& t : shards[i]) index["weight_map"][t.name] = name;
  }
  std::ofstream(dir / "model.safetensors.index.json") << index.dump(2) << "\n";
}

}  // namespace pio
