#include "model/packed_weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gpu/cpu/weight_packing.h"
#include "model/errors.h"
#include "storage/content_hash.h"

namespace pio {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'P', 'I', 'O', 'P', 'A', 'C', 'K', '2'};
constexpr size_t kMagicStem = 7;  // "PIOPACK": any format's, the last character its version
// Part of every key: bump it whenever a packed layout (packed_bf16.h, quant.h) changes, so files
// written in an older layout are never mapped.
constexpr int kLayoutVersion = 1;
constexpr size_t kHeaderBytes = 4096;  // the payload starts page-aligned

struct Header {  // at the file's start, padded to kHeaderBytes
  char magic[8];
  uint64_t key_hash;
  uint64_t payload_bytes;
  uint64_t checksum;     // XXH3-64 of the payload
  uint64_t source_hash;  // where the weights come from (see PackedWeights' `source`)
};

static_assert(sizeof(Header) <= kHeaderBytes);

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

// Asks the kernel to let go of a file's clean cached pages (those some process maps stay).
void drop_cached_pages(const fs::path& path) {
  if (const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

// XXH3-64 of a payload, as the file header stores it.
uint64_t checksum_of(const unsigned char* payload, size_t bytes) {
  return checksum64({reinterpret_cast<const char*>(payload), bytes}, {});
}

// The key plus every request's format and shape: a file made for other shapes never matches.
uint64_t hash_key(const std::string& key, const std::vector<PackRequest>& requests) {
  std::string all = key + "|layout " + std::to_string(kLayoutVersion);
  for (const auto& r : requests)
    all += '|' + std::to_string(static_cast<int>(r.format)) + ':' + std::to_string(r.weight->rows) + 'x' +
           std::to_string(r.weight->cols) + ':' + std::to_string(static_cast<int>(r.weight->dtype));
  return checksum64(all, {});
}

// Deletes the temporary files (NAME.pack.tmpPID) that a packing process left behind when it died,
// so that they do not fill the disk: those whose process is gone, or is this one.
void remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t at = name.find(".pack.tmp");
    if (at == std::string::npos) continue;
    const std::string digits = name.substr(at + 9);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    const auto pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid() || (::kill(pid, 0) != 0 && errno == ESRCH)) fs::remove(it->path(), ec);
  }
}

// Deletes the pack files in `dir` other than `kept` that this one replaces: those of the same
// source (the checkpoint changed since they were written) and those of an older format (no
// version of pio maps them again). Returns how many went.
int remove_replaced_packs(const fs::path& dir, uint64_t source_hash, const fs::path& kept) {
  int removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".pack" || it->path().filename() == kept.filename()) continue;
    Header h{};
    std::ifstream in(it->path(), std::ios::binary);
    if (!in.read(reinterpret_cast<char*>(&h), sizeof h) || std::memcmp(h.magic, kMagic, kMagicStem) != 0) continue;
    const bool older_format = h.magic[kMagicStem] < kMagic[kMagicStem];  // a newer pio's stay
    std::error_code removal;
    if ((older_format || h.source_hash == source_hash) && fs::remove(it->path(), removal)) ++removed;
  }
  return removed;
}

}  // namespace

bool parse_weight_scheme(std::string_view name, WeightScheme& out) {
  for (WeightScheme s : {WeightScheme::Auto, WeightScheme::BF16, WeightScheme::Q8, WeightScheme::Q4})
    if (name == weight_scheme_name(s)) {
      out = s;
      return true;
    }
  return false;
}

std::string_view weight_scheme_name(WeightScheme scheme) {
  switch (scheme) {
    case WeightScheme::Auto: return "auto";
    case WeightScheme::BF16: return "bf16";
    case WeightScheme::Q8: return "q8";
    case WeightScheme::Q4: return "q4";
  }
  return "auto";
}

PackedWeights::PackedWeights(const Checkpoint& ckpt, const std::vector<PackRequest>& requests, const std::string& key,
                             const std::string& source, const fs::path& cache_dir, bool map_file) {
  for (const auto& r : requests) {
    offsets_.push_back(payload_bytes_);
    payload_bytes_ += align64(static_cast<size_t>(cpu::packed_weight_bytes(r.format, r.weight->rows, r.weight->cols)));
  }
  if (requests.empty()) return;
  const uint64_t key_hash = hash_key(key, requests);
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.pack", static_cast<unsigned long long>(key_hash));
  const fs::path path = cache_dir.empty() ? fs::path() : cache_dir / name;
  std::string why = cache_dir.empty() ? "no cache directory" : "";
  if (!path.empty()) remove_stale_temporaries(cache_dir);
  if (!path.empty() && !map_existing(path, key_hash))
    why = build_file(ckpt, path, {key_hash, hash_key(source, requests)}, requests);
  if (map_ && !map_file) read_into_memory(path);
  unsigned char* payload = nullptr;
  if (map_) {
    payload = static_cast<unsigned char*>(map_) + kHeaderBytes;
  } else if (memory_) {
    payload = reinterpret_cast<unsigned char*>(memory_->data());
  } else {
    payload = reinterpret_cast<unsigned char*>(memory_.emplace(payload_bytes_).data());
    pack_all(ckpt, requests, payload, false);
    origin_ = "packed in memory (" + why + ")";
  }
  payload_ = payload;
  for (size_t i = 0; i < requests.size(); ++i) {
    WeightView& w = *requests[i].weight;
    w = WeightView{w.dtype, payload + offsets_[i], w.rows, w.cols, requests[i].format};
  }
}

PackedWeights::~PackedWeights() {
  if (map_) ::munmap(map_, map_bytes_);
}

bool PackedWeights::map_existing(const fs::path& path, uint64_t key_hash) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const size_t bytes = kHeaderBytes + payload_bytes_;
  std::error_code ec;
  void* m = fs::file_size(path, ec) == bytes ? ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (m == MAP_FAILED) {
    origin_ = "rebuilt " + path.string() + " (its size was wrong)";
    return false;
  }
  // Huge pages for the same reason as HugePageBuffer's: pages read in from here on (the
  // checksum reads them all) come as 2 MiB folios where the file system supports them.
  ::madvise(m, bytes, MADV_HUGEPAGE);
  Header h;
  std::memcpy(&h, m, sizeof h);
  const unsigned char* payload = static_cast<const unsigned char*>(m) + kHeaderBytes;
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 || h.key_hash != key_hash ||
      h.payload_bytes != payload_bytes_ || checksum_of(payload, payload_bytes_) != h.checksum) {
    ::munmap(m, bytes);
    origin_ = "rebuilt " + path.string() + " (stale or corrupt)";
    return false;
  }
  map_ = m;
  map_bytes_ = bytes;
  origin_ = "mapped " + path.string();
  return true;
}

void PackedWeights::read_into_memory(const fs::path& path) {
  std::memcpy(memory_.emplace(payload_bytes_).data(), static_cast<const unsigned char*>(map_) + kHeaderBytes, payload_bytes_);
  ::munmap(map_, map_bytes_);
  map_ = nullptr;
  // The page cache's copy is no longer needed (clean pages; a process that maps the file keeps
  // its mapped ones).
  drop_cached_pages(path);
  origin_ = origin_.starts_with("mapped ") ? "read " + path.string() + " into memory" : origin_ + ", read into memory";
}

// Packs into a temporary file beside `path`, then renames it into place (a crash leaves no
// half-written file under the final name), and maps the result read-only. The file's blocks are
// allocated before it is mapped: writing a page of a sparse file that the disk has no room for
// would be a SIGBUS.
std::string PackedWeights::build_file(const Checkpoint& ckpt, const fs::path& path, PackIdentity identity,
                                      const std::vector<PackRequest>& requests) {
  std::error_code ec;
  const fs::path tmp = path.string() + ".tmp" + std::to_string(::getpid());
  const auto failed = [&](const std::string& what, int error) {
    fs::remove(tmp, ec);
    return "cannot write " + path.string() + ": " + what + ": " + std::strerror(error);
  };
  // Its own error (a read-only parent: permission denied), not open's "no such file" after it.
  if (fs::create_directories(path.parent_path(), ec); ec) return failed("creating its directory", ec.value());
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return failed("open", errno);
  const size_t bytes = kHeaderBytes + payload_bytes_;
  if (const int error = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes)); error != 0) {
    ::close(fd);
    return failed("allocating " + std::to_string(bytes >> 20) + " MiB", error);
  }
  void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int map_error = errno;
  ::close(fd);
  if (m == MAP_FAILED) return failed("mmap", map_error);
  auto* payload = static_cast<unsigned char*>(m) + kHeaderBytes;
  pack_all(ckpt, requests, payload, true);
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.key_hash = identity.key_hash;
  h.source_hash = identity.source_hash;
  h.payload_bytes = payload_bytes_;
  h.checksum = checksum_of(payload, payload_bytes_);
  std::memcpy(m, &h, sizeof h);
  const bool written = ::msync(m, bytes, MS_SYNC) == 0;
  const int sync_error = errno;
  ::munmap(m, bytes);
  if (!written) return failed("msync", sync_error);
  if (fs::rename(tmp, path, ec); ec) return failed("rename", ec.value());
  // Written through a 4 KiB-page mapping, the file's cached pages are small ones; dropped (they
  // are clean after the msync), the checksum pass reads them back as huge folios where the file
  // system has them (see map_existing).
  drop_cached_pages(path);
  const std::string rebuilt = origin_;
  if (!map_existing(path, identity.key_hash)) return "cannot map " + path.string() + " back";
  origin_ = (rebuilt.empty() ? "packed into " + path.string() : rebuilt);
  if (const int removed = remove_replaced_packs(path.parent_path(), identity.source_hash, path); removed > 0)
    origin_ += " (deleted " + std::to_string(removed) + " older pack file" + (removed > 1 ? "s" : "") + " it replaces)";
  return {};
}

// The requests over all cores, largest first, each matrix by one thread.
void PackedWeights::pack_all(const Checkpoint& ckpt, const std::vector<PackRequest>& requests, unsigned char* payload,
                             bool to_file) const {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  std::vector<size_t> order(requests.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return requests[a].weight->rows * requests[a].weight->cols > requests[b].weight->rows * requests[b].weight->cols;
  });
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < order.size();) {
      const PackRequest& r = requests[order[i]];
      unsigned char* out = payload + offsets_[order[i]];
      cpu::pack_weight(*r.weight, r.format, out);
      ckpt.release(*r.weight);
      if (!to_file) continue;
      const auto begin = reinterpret_cast<uintptr_t>(out);
      const uintptr_t first = (begin + page - 1) / page * page,
                      last = (begin + static_cast<uintptr_t>(cpu::packed_weight_bytes(r.format, r.weight->rows,
                                                                                      r.weight->cols))) / page * page;
      if (first < last && ::msync(reinterpret_cast<void*>(first), last - first, MS_SYNC) == 0)
        ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
    }
  };
  std::vector<std::thread> threads(std::max(1u, std::thread::hardware_concurrency()) - 1);
  for (auto& t : threads) t = std::thread(worker);
  worker();
  for (auto& t : threads) t.join();
}

}  // namespace pio
