// Packed and quantised weights through the whole text model: the cache file is made once,
// mapped later, rebuilt when stale or corrupt, and gives the logits packing in memory gives;
// q8 and q4 logits stay within stated bounds of the checkpoint's own.
#define BOOST_TEST_MODULE packed_weights
#include <boost/test/unit_test.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/model/test_support.h"

using namespace pio;
namespace fs = std::filesystem;

namespace {

const std::vector<int32_t> kIds{3, 141, 59, 26, 5, 358, 97, 93, 238, 462, 64, 33};

struct Loaded {
  std::unique_ptr<Backend> backend = make_cpu_backend(2);
  ModelWeights model;
  TextModel text;
  Loaded(const fs::path& dir, WeightScheme scheme, const fs::path& cache, bool map = true)
      : model(dir, ModelOptions{scheme, cache, map}), text(model, *backend) {}
  std::vector<float> logits() { return test::pio_logits(text, kIds); }
  std::string origin() const { return model.packed_weights() ? model.packed_weights()->origin() : "none"; }
};

struct Fixture {
  test::TempDir dir{"packed"}, cache{"packed-cache"};
  Fixture() { write_random_checkpoint(test::small_text_config("bfloat16"), 7, dir.path()); }
  fs::path pack_file() const {
    for (const auto& e : fs::directory_iterator(cache.path()))
      if (e.path().extension() == ".pack") return e.path();
    return {};
  }
};

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Greedy agreement: positions whose argmax is the same.
double argmax_agreement(const std::vector<float>& a, const std::vector<float>& b, int64_t vocab) {
  int64_t same = 0, rows = static_cast<int64_t>(a.size()) / vocab;
  for (int64_t r = 0; r < rows; ++r) {
    const auto ra = a.begin() + r * vocab, rb = b.begin() + r * vocab;
    same += std::max_element(ra, ra + vocab) - ra == std::max_element(rb, rb + vocab) - rb;
  }
  return static_cast<double>(same) / static_cast<double>(rows);
}

// The "THPeligible:" figure of the mapping in /proc/self/smaps that holds `address`: 1 when
// transparent huge pages may back it, -1 when no mapping holds it.
int thp_eligible(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<uintptr_t>(address);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 && line.find(':') > line.find('-'))
      inside = lo <= at && at < hi;
    else if (inside && line.rfind("THPeligible:", 0) == 0)
      return std::stoi(line.substr(12));
  }
  return -1;
}

bool thp_enabled() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return !modes.empty() && modes.find("[never]") == std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(the_pack_file_is_built_once_then_mapped_with_the_same_logits, Fixture) {
  std::vector<float> in_memory = Loaded(dir.path(), WeightScheme::BF16, "").logits();
  Loaded first(dir.path(), WeightScheme::BF16, cache.path());
  BOOST_TEST(starts_with(first.origin(), "packed into "), first.origin());
  BOOST_TEST(first.logits() == in_memory);
  Loaded second(dir.path(), WeightScheme::BF16, cache.path());
  BOOST_TEST(starts_with(second.origin(), "mapped "), second.origin());
  BOOST_TEST(second.logits() == in_memory);
  // A bf16 checkpoint's auto scheme packs the same matrices the same way, in its own file.
  BOOST_TEST(Loaded(dir.path(), WeightScheme::Auto, cache.path()).logits() == in_memory);
}

// --no-mmap: the checked file is copied into the process's own memory, so what happens to the
// file afterwards (overwritten here in place, which a shared mapping would show) changes nothing.
BOOST_FIXTURE_TEST_CASE(no_mmap_reads_the_pack_file_into_private_memory, Fixture) {
  const std::vector<float> in_memory = Loaded(dir.path(), WeightScheme::BF16, "").logits();
  Loaded built(dir.path(), WeightScheme::BF16, cache.path(), false);
  BOOST_TEST(starts_with(built.origin(), "packed into "), built.origin());
  BOOST_TEST(built.origin().find(", read into memory") != std::string::npos, built.origin());
  BOOST_TEST(built.logits() == in_memory);
  Loaded read(dir.path(), WeightScheme::BF16, cache.path(), false);
  BOOST_TEST(read.origin() == "read " + pack_file().string() + " into memory");
  {
    std::fstream f(pack_file(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    for (int i = 0; i < 1 << 16; ++i) f.put('\x5a');
  }
  BOOST_TEST(read.logits() == in_memory);
  BOOST_TEST(built.logits() == in_memory);
}

// Weights in private memory start on a 2 MiB boundary, advised for transparent huge pages (a
// batched decode step streams them all; 4 KiB pages cost a TLB miss per 4 KiB).
BOOST_FIXTURE_TEST_CASE(weights_in_private_memory_may_take_huge_pages, Fixture) {
  Loaded read(dir.path(), WeightScheme::BF16, cache.path(), false);
  const auto payload = read.model.packed_weights()->payload();
  BOOST_REQUIRE(!payload.empty());
  BOOST_TEST(reinterpret_cast<uintptr_t>(payload.data()) % (uintptr_t{2} << 20) == 0u);
  if (!thp_enabled()) {
    BOOST_TEST_MESSAGE("transparent huge pages are off on this machine: eligibility not checked");
    return;
  }
  BOOST_TEST(thp_eligible(payload.data()) == 1);
  BOOST_TEST(thp_eligible(payload.data() + payload.size() - 1) == 1);
}

BOOST_FIXTURE_TEST_CASE(a_corrupt_or_truncated_pack_file_is_rebuilt, Fixture) {
  const std::vector<float> want = Loaded(dir.path(), WeightScheme::Q8, cache.path()).logits();
  const fs::path file = pack_file();
  BOOST_REQUIRE(!file.empty());
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2));
    f.put('\x5a');
  }
  Loaded corrupt(dir.path(), WeightScheme::Q8, cache.path());
  BOOST_TEST(corrupt.origin().find("stale or corrupt") != std::string::npos, corrupt.origin());
  BOOST_TEST(corrupt.logits() == want);
  fs::resize_file(file, fs::file_size(file) - 4096);
  Loaded truncated(dir.path(), WeightScheme::Q8, cache.path());
  BOOST_TEST(truncated.origin().find("size was wrong") != std::string::npos, truncated.origin());
  BOOST_TEST(truncated.logits() == want);
  BOOST_TEST(starts_with(Loaded(dir.path(), WeightScheme::Q8, cache.path()).origin(), "mapped "));
}

// Against the f32 checkpoint of the same random values, measured on this model: bf16 4.3e-3
// (weights and activations rounded to bf16), q8 1.1e-2, q4 0.11 relative error. The bounds leave
// about 3-5x room; greedy agreement with bf16 is checked too (random weights give flat logits,
// the hardest case for it).
BOOST_FIXTURE_TEST_CASE(quantised_logits_stay_near_the_checkpoints, Fixture) {
  const int64_t vocab = test::small_text_config("bfloat16").text.vocab_size;
  // Plain: the checkpoint's bf16 matrices as they are, read by the row-major kernel.
  test::TempDir f32_dir{"packed-f32"};
  write_random_checkpoint(test::small_text_config("float32"), 7, f32_dir.path());
  const std::vector<float> exact = Loaded(f32_dir.path(), WeightScheme::Auto, "").logits();
  const std::vector<float> bf16 = Loaded(dir.path(), WeightScheme::BF16, "").logits();
  const std::vector<float> q8 = Loaded(dir.path(), WeightScheme::Q8, "").logits();
  const std::vector<float> q4 = Loaded(dir.path(), WeightScheme::Q4, "").logits();
  const double e_bf16 = test::max_relative_error(bf16, exact), e_q8 = test::max_relative_error(q8, exact),
               e_q4 = test::max_relative_error(q4, exact);
  BOOST_TEST_MESSAGE("relative error vs f32: bf16 " << e_bf16 << ", q8 " << e_q8 << ", q4 " << e_q4);
  BOOST_TEST(e_bf16 < 2e-2);
  BOOST_TEST(e_q8 < 5e-2);
  BOOST_TEST(e_q4 < 0.3);
  BOOST_TEST(argmax_agreement(q8, bf16, vocab) >= 0.9);
  BOOST_TEST(argmax_agreement(q4, bf16, vocab) >= 0.6);
  BOOST_TEST(e_q8 > 0.0);  // the quantised model really ran on other weights
}

// A cache directory that cannot be made (here: under a regular file) leaves the weights packed
// in memory, with the same logits, and says why.
BOOST_FIXTURE_TEST_CASE(an_unusable_cache_directory_packs_in_memory, Fixture) {
  const fs::path blocker = cache.path() / "not-a-directory";
  std::ofstream(blocker) << "x";
  Loaded in_memory(dir.path(), WeightScheme::BF16, blocker / "weights");
  BOOST_TEST(starts_with(in_memory.origin(), "packed in memory (cannot write "), in_memory.origin());
  // The directory's own error, not a "no such file" from opening a file in it.
  BOOST_TEST(in_memory.origin().find(": creating its directory: Not a directory)") != std::string::npos, in_memory.origin());
  BOOST_TEST(in_memory.logits() == Loaded(dir.path(), WeightScheme::BF16, "").logits());
}

// A disk without room for the pack file (a real fault: RLIMIT_FSIZE makes the allocation fail
// with EFBIG, as a full disk fails it with ENOSPC): the file's blocks are allocated before it
// is mapped, so packing never touches a page the disk cannot hold (before: SIGBUS), the weights
// are packed in memory, the reason is said, and no temporary file is left behind.
BOOST_FIXTURE_TEST_CASE(a_disk_without_room_packs_in_memory_and_leaves_nothing, Fixture) {
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit saved{};
  getrlimit(RLIMIT_FSIZE, &saved);
  rlimit small = saved;
  small.rlim_cur = 64 << 10;
  BOOST_REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  std::string origin;
  std::vector<float> logits;
  {
    Loaded loaded(dir.path(), WeightScheme::BF16, cache.path());
    origin = loaded.origin();
    logits = loaded.logits();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  BOOST_TEST(starts_with(origin, "packed in memory (cannot write "), origin);
  BOOST_TEST(origin.find("allocating") != std::string::npos, origin);
  BOOST_TEST(fs::is_empty(cache.path()));
  BOOST_TEST(logits == Loaded(dir.path(), WeightScheme::BF16, "").logits());
}

// A temporary pack file whose process is gone is deleted at the next start; one that a live
// process is writing is left alone.
BOOST_FIXTURE_TEST_CASE(stale_temporary_pack_files_are_removed, Fixture) {
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const fs::path stale = cache.path() / ("0123456789abcdef.pack.tmp" + std::to_string(dead));
  const fs::path live = cache.path() / ("0123456789abcdef.pack.tmp" + std::to_string(getppid()));
  std::ofstream(stale) << std::string(4096, 'x');
  std::ofstream(live) << "x";
  Loaded loaded(dir.path(), WeightScheme::BF16, cache.path());
  BOOST_TEST(!fs::exists(stale));
  BOOST_TEST(fs::exists(live));
  BOOST_TEST(starts_with(loaded.origin(), "packed into "), loaded.origin());
}

// A checkpoint whose files changed (rewritten: new modification times) gets a new pack file,
// which replaces the one written before the change, and a file of an older format (not one of
// a newer format: another pio's); the other scheme's file of the same checkpoint stays until that scheme is loaded again, another
// checkpoint's file stays.
BOOST_FIXTURE_TEST_CASE(a_new_pack_file_replaces_the_one_of_its_checkpoint_before_it_changed, Fixture) {
  { Loaded q8(dir.path(), WeightScheme::Q8, cache.path()); }
  const fs::path before = pack_file();
  BOOST_REQUIRE(!before.empty());
  { Loaded q4(dir.path(), WeightScheme::Q4, cache.path()); }
  test::TempDir other{"packed-other"};
  write_random_checkpoint(test::small_text_config("bfloat16"), 8, other.path());
  { Loaded other_q8(other.path(), WeightScheme::Q8, cache.path()); }
  const fs::path older_format = cache.path() / "00000000000000aa.pack";
  std::ofstream(older_format) << "PIOPACK1" << std::string(4096, '\0');
  const fs::path newer_format = cache.path() / "00000000000000bb.pack";  // a newer pio's: kept
  std::ofstream(newer_format) << "PIOPACK9" << std::string(4096, '\0');
  const auto pack_files = [&] {
    return std::count_if(fs::directory_iterator(cache.path()), fs::directory_iterator(),
                         [](const fs::directory_entry& e) { return e.path().extension() == ".pack"; });
  };
  BOOST_TEST(pack_files() == 5);
  for (const auto& e : fs::directory_iterator(dir.path()))
    if (e.path().extension() == ".safetensors") fs::last_write_time(e.path(), fs::last_write_time(e.path()) + std::chrono::hours(1));
  Loaded changed(dir.path(), WeightScheme::Q8, cache.path());
  BOOST_TEST(changed.origin().find("packed into ") == 0, changed.origin());
  BOOST_TEST(changed.origin().find("(deleted 2 older pack files it replaces)") != std::string::npos, changed.origin());
  BOOST_TEST(!fs::exists(before));
  BOOST_TEST(!fs::exists(older_format));
  BOOST_TEST(fs::exists(newer_format));
  fs::remove(newer_format);
  BOOST_TEST(pack_files() == 3);  // the new q8, the q4 (stale now, kept until replaced), the other's
  const std::string q4 = Loaded(dir.path(), WeightScheme::Q4, cache.path()).origin();
  BOOST_TEST(q4.find("(deleted 1 older pack file it replaces)") != std::string::npos, q4);
  BOOST_TEST(pack_files() == 3);
  BOOST_TEST(starts_with(Loaded(other.path(), WeightScheme::Q8, cache.path()).origin(), "mapped "));
}
