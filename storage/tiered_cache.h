// The tiered cache (docs/architecture.md, "The cache"): hot in memory (LRU, bounded in bytes),
// warm a RocksDB column family without compression, cold one with zstd, each bounded in bytes.
//
// Writes go through: put() keeps the value in hot and writes it to warm, so what survives a
// restart never depends on a clean shutdown; a hot eviction then only frees memory (the value
// is already in warm). Warm demotes its least recently used entries into cold; cold deletes its
// oldest. A read from warm or cold promotes the entry to hot (and a cold one back to warm).
// Every key is prefixed by the model fingerprint; every disk value is framed with a format
// version and a checksum (value_frame.h): one that fails is dropped, counted, and read as a
// miss, so the caller recomputes. A directory that cannot be opened (locked, damaged) leaves the
// cache memory-only, with disk_error() saying why; later disk errors are counted the same way
// and never thrown. Thread-safe; get_or_compute() computes a missing key once however many
// threads ask for it at the same time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/cache_stats.h"
#include "storage/disk_tiers.h"

namespace pio {

struct TieredCacheOptions {
  std::filesystem::path dir;  // the RocksDB directory; empty: memory only
  std::string fingerprint;    // model_fingerprint(): prefixes every key
  int64_t hot_bytes = int64_t{512} << 20;
  int64_t warm_bytes = int64_t{2} << 30;
  int64_t cold_bytes = int64_t{8} << 30;
};

using CacheValue = std::shared_ptr<const std::string>;

class TieredCache {
 public:
  // Never throws for the directory: see disk_error(). Throws std::invalid_argument for a
  // negative bound.
  explicit TieredCache(TieredCacheOptions options);
  ~TieredCache();
  TieredCache(const TieredCache&) = delete;
  TieredCache& operator=(const TieredCache&) = delete;

  // The value, or null on a miss (a dropped corrupt value is a miss).
  CacheValue get(const std::string& key);
  // Stores a value: in hot (unless keep_hot is false: a value the caller holds in memory
  // itself) and in warm. A value over a tier's bound skips that tier.
  void put(const std::string& key, std::string value, bool keep_hot = true);
  // get(), and on a miss compute() once: concurrent callers of the same key wait for the first
  // one's result. An exception from compute() reaches every waiter and nothing is stored.
  CacheValue get_or_compute(const std::string& key, const std::function<std::string()>& compute);

  // True when a get() would hit, without reading or promoting the value.
  bool contains(const std::string& key) const;

  // Memory pressure: a new bound for hot (evicting down to it at once); hot_limit() the current.
  void set_hot_limit(int64_t bytes);
  int64_t hot_limit() const;
  // The bound given at construction.
  int64_t configured_hot_limit() const { return options_.hot_bytes; }

  // Per tier (hot, warm, cold; warm and cold all zero without disk).
  std::vector<CacheTierStats> stats() const;
  bool has_disk() const;
  // Why the disk tiers are off or why the last disk operation failed; empty when all is well.
  std::string disk_error() const;
  const std::filesystem::path& dir() const { return options_.dir; }

 private:
  struct Entry {
    std::list<std::string>::iterator lru;
    int64_t bytes = 0;
    CacheValue value;  // hot only
  };
  struct Tier {
    CacheTierStats stats;
    int64_t limit = 0;
    std::list<std::string> lru;  // most recent first
    std::unordered_map<std::string, Entry> entries;
  };

  // Every private member expects mutex_ held. Keys here are full keys (fingerprint included).
  CacheValue lookup(const std::string& full);
  CacheValue read_disk(const std::string& full, DiskTier tier);
  void store(const std::string& full, const CacheValue& value, bool keep_hot);
  void insert_hot(const std::string& full, const CacheValue& value);
  // Records an entry in a tier's index (most recent) and writes nothing.
  void index(Tier& t, const std::string& full, int64_t bytes, CacheValue value = nullptr);
  void unindex(Tier& t, const std::string& full);
  void write_disk(const std::string& full, std::string_view framed, DiskTier to, std::optional<DiskTier> previous);
  void drop_corrupt(const std::string& full, DiskTier tier);
  void shrink();
  void disk_failed(const std::exception& e);
  Tier& tier(DiskTier t) { return t == DiskTier::warm ? warm_ : cold_; }
  std::optional<DiskTier> disk_tier_of(const std::string& full) const;
  std::string full_key(const std::string& key) const { return options_.fingerprint + '/' + key; }

  TieredCacheOptions options_;
  mutable std::mutex mutex_;
  std::unique_ptr<DiskTiers> disk_;
  std::string disk_error_;
  uint64_t seq_ = 0;
  Tier hot_, warm_, cold_;
  std::unordered_map<std::string, std::shared_future<CacheValue>> computing_;
};

}  // namespace pio
