#include "fuzz/scratch_file.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace pio::fuzz {
namespace {

class ScratchDir {
 public:
  ScratchDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "pio-fuzz-XXXXXX").string();
    if (!::mkdtemp(templ.data())) throw std::runtime_error("fuzz: cannot create a scratch directory in " + templ);
    path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

std::filesystem::path write_scratch_file(std::string_view name, std::span<const uint8_t> data) {
  static const ScratchDir dir;
  const auto path = dir.path() / name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("fuzz: cannot create " + path.string());
  const bool written = data.empty() || std::fwrite(data.data(), 1, data.size(), f) == data.size();
  if (std::fclose(f) != 0 || !written) throw std::runtime_error("fuzz: cannot write " + path.string());
  return dir.path();
}

}  // namespace pio::fuzz
