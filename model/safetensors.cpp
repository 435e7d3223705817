#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "model/errors.h"

namespace pio {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the format's own limit
constexpr size_t kMaxRank = 8;                     // pio's tensors have at most 5 dimensions
constexpr uint64_t kMaxElements = uint64_t{1} << 48;  // keeps numel and bytes far from overflow

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw ModelError(path.string() + ": " + what);
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(path, "cannot stat");
  }
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ < 8) {
    ::close(fd);
    fail(path, "truncated: " + std::to_string(f->size_) + " bytes, not even the 8-byte header length");
  }
  void* m = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) fail(path, "cannot map into memory");
  f->map_ = m;
  f->parse_header();
  return f;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::from_bytes(std::string bytes, const std::string& name) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = name;
  f->size_ = bytes.size();
  if (f->size_ < 8) fail(name, "truncated: " + std::to_string(f->size_) + " bytes, not even the 8-byte header length");
  f->owned_ = std::move(bytes);
  f->parse_header();
  return f;
}

void SafetensorsFile::release_pages(const void* data, size_t bytes) const {
  const auto begin = reinterpret_cast<uintptr_t>(data), base = reinterpret_cast<uintptr_t>(map_);
  if (!map_ || begin < base || begin + bytes > base + size_) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page, last = (begin + bytes) / page * page;
  if (first < last) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

void SafetensorsFile::parse_header() {
  const auto* bytes = static_cast<const unsigned char*>(map_ ? map_ : owned_.data());
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes, 8);  // little-endian, as the format and x86 agree
  if (header_len > kMaxHeaderBytes) fail(path_, "header length " + std::to_string(header_len) + " is implausible");
  if (8 + header_len > size_)
    fail(path_, "truncated: header needs " + std::to_string(8 + header_len) + " bytes, file has " +
                    std::to_string(size_));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    fail(path_, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(path_, "header is not a JSON object");

  const uint64_t data_size = size_ - 8 - header_len;
  const auto* data = bytes + 8 + header_len;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(path_, "__metadata__ is not an object");
      for (const auto& [k, v] : entry.items())
        if (v.is_string()) metadata_[k] = v.get<std::string>();
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      fail(path_, where + "needs dtype, shape and data_offsets");
    TensorInfo t;
    t.name = name;
    if (!entry["dtype"].is_string() || !parse_dtype(entry["dtype"].get<std::string>(), t.dtype))
      fail(path_, where + "unsupported dtype " + entry["dtype"].dump());
    const auto& shape = entry["shape"];
    if (!shape.is_array()) fail(path_, where + "shape is not an array");
    if (shape.size() > kMaxRank)
      fail(path_, where + "shape has " + std::to_string(shape.size()) + " dimensions, at most " +
                      std::to_string(kMaxRank) + " are supported");
    uint64_t numel = 1;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned()) fail(path_, where + "bad dimension " + d.dump());
      const auto dim = d.get<uint64_t>();
      if (dim != 0 && numel > kMaxElements / dim) fail(path_, where + "shape is absurdly large");
      numel *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(path_, where + "data_offsets must be two non-negative integers");
    const auto begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end) fail(path_, where + "data_offsets are reversed");
    if (end > data_size)
      fail(path_, where + "data ends at byte " + std::to_string(end) + " but the file holds only " +
                      std::to_string(data_size) + " data bytes (truncated?)");
    if (end - begin != numel * dtype_size(t.dtype))
      fail(path_, where + "shape needs " + std::to_string(numel * dtype_size(t.dtype)) + " bytes, offsets give " +
                      std::to_string(end - begin));
    t.data = data + begin;
    t.bytes = static_cast<size_t>(end - begin);
    ranges.emplace_back(begin, end);
    tensors_.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second) fail(path_, "two tensors overlap in the data section");

  // The format allows any offset (its writers pad the header so that none is needed), but the
  // kernels read whole elements: a tensor whose data is not aligned to its element size is
  // read from an aligned copy instead (new[] aligns for every element type).
  for (auto& [name, t] : tensors_) {
    if (reinterpret_cast<uintptr_t>(t.data) % dtype_size(t.dtype) == 0) continue;
    auto& copy = aligned_copies_.emplace_back(new unsigned char[t.bytes]);
    std::memcpy(copy.get(), t.data, t.bytes);
    t.data = copy.get();
  }
}

}  // namespace pio
