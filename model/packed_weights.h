// The model's matrices in the layouts the matmul kernels read fastest (gpu/cpu/weight_packing.h):
// panel-packed bf16, or quantised to 8 or 4 bits. Packing happens once: the first load writes
// the packed matrices to a cache file, later loads map it (so a node's second start costs about
// the time to map the file and check its checksum).
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gpu/backend.h"
#include "model/checkpoint.h"
#include "model/huge_pages.h"

namespace pio {

// --weights: auto keeps the checkpoint's precision (bf16 weights panel-packed, f32 and f16 as
// they are, so those stay exact); bf16 rounds to bf16; q8 and q4 quantise the text decoder's
// matrices and lm_head (embeddings, norms and the vision tower stay in the checkpoint's dtype,
// panel-packed when bf16).
enum class WeightScheme { Auto, BF16, Q8, Q4 };

// "auto", "bf16", "q8", "q4"; false for anything else.
bool parse_weight_scheme(std::string_view name, WeightScheme& out);
std::string_view weight_scheme_name(WeightScheme scheme);

// A weight to pack, rewritten in place to the packed view.
struct PackRequest {
  WeightView* weight;
  WeightFormat format;
};

class PackedWeights {
 public:
  // Packs every request's weight, rewriting *weight to point into this object's memory.
  // cache_dir set: the file cache_dir/<key hash>.pack is mapped when its header (format version,
  // key, size) and XXH3 checksum agree; otherwise (missing, stale or corrupt) it is rebuilt
  // there (a temporary file that a dead process left there is deleted first). cache_dir empty,
  // or the file cannot be written (no space: its blocks are allocated before it is mapped):
  // packed into memory, origin() saying why. `key` names the checkpoint's files and the scheme
  // (model_fingerprint); `source` names where they are (the host, the checkpoint's
  // directory and the scheme). Once a new file is written, the cache's files of the same source under another key
  // (written before the checkpoint changed) are deleted, as are files of an older format: the
  // cache keeps one file per checkpoint directory and scheme. The checkpoint's mapped pages are
  // given back as each weight is packed. map_file false (--no-mmap): the checked file is read
  // into private memory (model/huge_pages.h) instead of staying mapped, and its page-cache copy
  // is dropped. A mapped file is advised for huge pages too; a newly written one is dropped from
  // the page cache first, so that it is read back in huge folios where the file system supports
  // them.
  PackedWeights(const Checkpoint& ckpt, const std::vector<PackRequest>& requests, const std::string& key,
                const std::string& source, const std::filesystem::path& cache_dir, bool map_file = true);
  ~PackedWeights();
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;

  // How the weights were obtained: "mapped PATH", "read PATH into memory", "packed into PATH",
  // "packed in memory" (+ why); a new file adds how many older ones it replaced.
  const std::string& origin() const { return origin_; }
  // The packed matrices' bytes, wherever they live (the mapped file or private memory).
  std::span<const unsigned char> payload() const { return {payload_, payload_ ? payload_bytes_ : 0}; }

 private:
  bool map_existing(const std::filesystem::path& path, uint64_t key_hash);
  // The mapped file's payload copied into memory_, the mapping and the file's cached pages let go.
  void read_into_memory(const std::filesystem::path& path);
  // A cache file's names: what it holds (its key's hash) and where that came from (its source's).
  struct PackIdentity {
    uint64_t key_hash;
    uint64_t source_hash;
  };
  // Writes and maps the cache file, then deletes the files it replaces; empty, or why it could
  // not (the payload is then packed in memory).
  std::string build_file(const Checkpoint& ckpt, const std::filesystem::path& path, PackIdentity identity,
                         const std::vector<PackRequest>& requests);
  // Packs every request into payload, giving back each source's pages as soon as it is packed
  // and, when the payload is a file mapping (to_file), the packed pages once written, so a
  // first load's memory never holds the checkpoint and the packed copy at once.
  void pack_all(const Checkpoint& ckpt, const std::vector<PackRequest>& requests, unsigned char* payload,
                bool to_file) const;

  std::vector<size_t> offsets_;  // of each request in the payload, 64-byte aligned
  size_t payload_bytes_ = 0;
  const unsigned char* payload_ = nullptr;
  void* map_ = nullptr;          // the whole file when mapped
  size_t map_bytes_ = 0;
  std::optional<HugePageBuffer> memory_;  // the payload when packed or read into memory
  std::string origin_;
};

}  // namespace pio
