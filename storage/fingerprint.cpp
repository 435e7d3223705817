#include "storage/fingerprint.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <vector>

#include "storage/content_hash.h"

namespace pio {

std::string model_fingerprint(const std::filesystem::path& model_dir, const std::string& dtype) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(model_dir)) {
    const auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".json" || ext == ".safetensors")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());  // directory order is not stable
  ContentHasher h;
  h.add(dtype);
  for (const auto& file : files) {
    h.add(file.filename().string());
    if (file.filename() == "config.json") {
      std::ifstream in(file, std::ios::binary);
      h.add(std::string(std::istreambuf_iterator<char>(in), {}));
      continue;
    }
    h.add_number(static_cast<int64_t>(fs::file_size(file)));
    h.add_number(static_cast<int64_t>(fs::last_write_time(file).time_since_epoch().count()));
  }
  return h.hex();
}

}  // namespace pio
