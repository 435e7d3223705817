// Reads a .safetensors file by mapping it into memory: tensors point into the mapping, nothing
// is copied, except a tensor whose data the file places at an offset not aligned to its element
// size, which is read from an aligned copy. The header is checked completely before any tensor
// is handed out.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gpu/dtype.h"

namespace pio {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // inside the file mapping, or an aligned copy; aligned to the dtype
  size_t bytes = 0;

  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Throws ModelError naming the file and the problem when it is missing, truncated or corrupt
  // (including shapes of more than 8 dimensions or 2^48 elements).
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  // The same checks over a file's bytes held in memory (a cached value); `name` stands for the
  // path in error messages.
  static std::shared_ptr<SafetensorsFile> from_bytes(std::string bytes, const std::string& name);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Gives back the memory of the mapped pages wholly inside [data, data + bytes) once a tensor
  // has been copied elsewhere (packed); they are read from the file again if touched later.
  // A range outside the mapping (an aligned copy, from_bytes()) is left alone.
  void release_pages(const void* data, size_t bytes) const;

 private:
  SafetensorsFile() = default;
  void parse_header();

  std::filesystem::path path_;
  void* map_ = nullptr;
  std::string owned_;  // the bytes of from_bytes(), instead of a mapping
  size_t size_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::unique_ptr<unsigned char[]>> aligned_copies_;  // of misaligned tensors
};

}  // namespace pio
