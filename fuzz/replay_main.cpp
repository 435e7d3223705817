// Replays saved fuzz inputs (tests/data/fuzz/<target>/) through one fuzz target as a plain
// test. A file named accept-* must be accepted and refuse-* refused with pio::ModelError; any
// other exception, a crash or a sanitizer report fails the test as it would the fuzzer.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/harness.h"

namespace {

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR  (replays every file of DIR)\n", argv[0]);
    return 2;
  }
  if (!std::filesystem::is_directory(argv[1])) {
    std::fprintf(stderr, "%s: not a directory\n", argv[1]);
    return 2;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(argv[1]))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "%s: no inputs to replay\n", argv[1]);
    return 1;
  }
  int failures = 0;
  for (const auto& path : files) {
    const std::string name = path.filename().string();
    const bool want_accept = name.starts_with("accept-");
    if (!want_accept && !name.starts_with("refuse-")) {
      std::fprintf(stderr, "%s: name must start with accept- or refuse-\n", name.c_str());
      ++failures;
      continue;
    }
    std::string outcome;
    bool ok = false;
    try {
      const auto refusal = pio::fuzz::run_one(read_file(path));
      ok = want_accept == !refusal;
      outcome = refusal ? "refused: " + *refusal : "accepted";
    } catch (const std::exception& e) {  // the fuzzer's finding too: only ModelError refuses
      outcome = std::string("unexpected exception: ") + e.what();
    }
    std::printf("%s %s: %s\n", ok ? "ok  " : "FAIL", name.c_str(), outcome.c_str());
    failures += !ok;
  }
  std::printf("%zu inputs, %d failed\n", files.size(), failures);
  return failures ? 1 : 0;
}
