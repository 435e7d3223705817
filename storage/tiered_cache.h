// The tiered cache (docs/architecture.md, "The cache"): hot in memory (LRU, bounded in bytes),
// warm a RocksDB column family without compression, cold one with zstd, each bounded in bytes.
//
// Writes go through, in the background: put() keeps the value in hot and queues its write to
// warm for the cache's writer thread (storage/write_queue.h, bounded: when it is full the write
// is dropped from the disk tiers, never waited for). The index of warm and cold is updated at
// once, and a value whose write is still queued is read from the queue, so the index is always
// what a get() finds. Warm demotes its least recently used entries into cold; cold deletes its
// oldest (both on the writer thread). A read from warm or cold promotes the entry to hot (and a
// cold one back to warm). Every key is prefixed by the model fingerprint; every disk value is
// framed with a format version and a checksum (value_frame.h): one that fails is dropped,
// counted, and read as a miss, so the caller recomputes.
//
// Disk faults never reach the caller: a directory that cannot be opened, and any later RocksDB
// error (no space, I/O error, a failed background flush), turn the disk tiers off: the cache
// serves from memory, says so once (disk_error(), options.log), and its writer reopens the
// database after a back-off (doubling from retry_initial_s to retry_max_s) until writing works
// again. A damaged database (RocksDB reports corruption) is moved aside (its files into
// DIR.damaged-<time>) and a new one created. Thread-safe; get_or_compute() computes a missing key once however many
// threads ask for it at the same time.
#pragma once

#include <chrono>
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
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/cache_stats.h"
#include "storage/disk_tiers.h"
#include "storage/write_queue.h"

namespace pio {

struct TieredCacheOptions {
  std::filesystem::path dir;  // the RocksDB directory; empty: memory only
  std::string fingerprint;    // model_fingerprint(): prefixes every key
  int64_t hot_bytes = int64_t{512} << 20;
  int64_t warm_bytes = int64_t{2} << 30;
  int64_t cold_bytes = int64_t{8} << 30;
  int64_t write_queue_bytes = int64_t{64} << 20;  // framed values waiting for the writer, at most
  size_t write_queue_jobs = 4096;                 // disk jobs waiting, at most
  double retry_initial_s = 1;                     // first wait before reopening failed disk tiers
  double retry_max_s = 60;                        // longest wait
  // Told each change of the disk tiers' state, once: off (and why), back on. Called on the
  // writer thread with the cache locked (so it must not call the cache); may be empty.
  std::function<void(const std::string&)> log{};
};

using CacheValue = std::shared_ptr<const std::string>;

class TieredCache {
 public:
  // Never throws for the directory: see disk_error(). Throws std::invalid_argument for a
  // negative bound.
  explicit TieredCache(TieredCacheOptions options);
  // Finishes the queued writes (unless the disk tiers are off), then closes the database.
  ~TieredCache();
  TieredCache(const TieredCache&) = delete;
  TieredCache& operator=(const TieredCache&) = delete;

  // The value, or null on a miss (a dropped corrupt value is a miss).
  CacheValue get(const std::string& key);
  // Stores a value: in hot (unless keep_hot is false: a value the caller holds in memory
  // itself) and, through the write queue, in warm. A value over a tier's bound skips that tier.
  void put(const std::string& key, std::string value, bool keep_hot = true);
  // get(), and on a miss compute() once: concurrent callers of the same key wait for the first
  // one's result. An exception from compute() reaches every waiter and nothing is stored.
  CacheValue get_or_compute(const std::string& key, const std::function<std::string()>& compute);
  // Reads each key found in warm or cold into hot, so that a later get() costs no disk read;
  // returns how many keys are hot afterwards. For a caller that is about to need them on a
  // thread that must not wait for the disk (the engine).
  size_t prefetch(const std::vector<std::string>& keys);

  // True when a get() would hit, without reading or promoting the value.
  bool contains(const std::string& key) const;
  // get() without a disk read: the value when it is in memory (hot, or queued for the writer),
  // else null. What the engine uses, so that a step never waits for the disk (prefetch first).
  CacheValue get_in_memory(const std::string& key);
  bool in_memory(const std::string& key) const;
  // Of these keys, those a get() would read from disk (in warm or cold, not in hot): what a
  // prefetch() of them would read. Reads nothing.
  std::vector<std::string> disk_only(const std::vector<std::string>& keys) const;

  // Memory pressure: a new bound for hot (evicting down to it at once); hot_limit() the current.
  void set_hot_limit(int64_t bytes);
  int64_t hot_limit() const;
  // The bound given at construction.
  int64_t configured_hot_limit() const { return options_.hot_bytes; }

  // Waits until the writer has run every queued job (for tests and orderly shutdown).
  void flush();

  // Per tier (hot, warm, cold; warm and cold all zero without disk).
  std::vector<CacheTierStats> stats() const;
  bool has_disk() const;
  // Why the disk tiers are off or were moved aside; empty when all is well.
  std::string disk_error() const;
  // Entries found on disk when it was (last) opened.
  int64_t recovered() const;
  // Where a damaged database was moved when it was (last) opened, or empty.
  std::string moved_aside() const;
  // Disk jobs dropped because the write queue was full.
  int64_t dropped_writes() const;
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
  struct Queued {
    CacheValue value;
    uint64_t seq = 0;  // the write's
  };
  using Clock = std::chrono::steady_clock;

  // Every private member expects mutex_ held unless it says otherwise. Keys here are full keys
  // (fingerprint included).
  // Reads from disk without holding the lock (it is released and taken again).
  CacheValue lookup(std::unique_lock<std::mutex>& lock, const std::string& full);
  CacheValue read_disk(std::unique_lock<std::mutex>& lock, const std::string& full, DiskTier tier);
  void store(const std::string& full, const CacheValue& value, bool keep_hot);
  void insert_hot(const std::string& full, const CacheValue& value);
  // Records an entry in a tier's index (most recent) and writes nothing.
  void index(Tier& t, const std::string& full, int64_t bytes, CacheValue value = nullptr);
  void unindex(Tier& t, const std::string& full);
  // Queues a job for the writer; false when the queue is full.
  bool queue(DiskJob job);
  void drop_corrupt(const std::string& full, DiskTier tier);
  void shrink();
  Tier& tier(DiskTier t) { return t == DiskTier::warm ? warm_ : cold_; }
  std::optional<DiskTier> disk_tier_of(const std::string& full) const;
  std::string full_key(const std::string& key) const { return options_.fingerprint + '/' + key; }

  // Opens the database (moving a damaged one aside) and indexes its entries. Without mutex_.
  struct Opened {
    std::unique_ptr<DiskTiers> disk;
    std::vector<DiskEntry> entries;
    std::string moved;  // where a damaged database went, or empty
  };
  Opened open_disk(bool probe) const;
  void install(Opened opened);
  // The writer thread: runs queued jobs, turns the disk off on an error, reopens it later.
  void run_writer();
  void run_job(DiskTiers& disk, DiskJob& job);
  void disk_off(std::unique_lock<std::mutex>& lock, const std::string& why);
  void try_reopen(std::unique_lock<std::mutex>& lock);
  void say(const std::string& line) const;

  TieredCacheOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;     // the writer: work, an error, stopping
  std::condition_variable drained_;  // flush(): the queue ran empty; disk_off(): no reader left
  std::unique_ptr<DiskTiers> disk_;  // null while the disk tiers are off
  std::string disk_error_;
  std::string read_error_;           // a caller's failed disk read, for the writer to act on
  WriteQueue queue_;
  std::unordered_map<std::string, Queued> queued_values_;  // written values still in the queue
  bool writing_ = false;             // the writer runs a job outside the lock
  int readers_ = 0;                  // callers reading disk_ outside the lock
  bool stopping_ = false;
  double backoff_s_ = 0;
  Clock::time_point retry_at_{};
  Clock::time_point up_since_{};
  std::string moved_aside_;
  int64_t recovered_ = 0;
  uint64_t seq_ = 0;
  Tier hot_, warm_, cold_;
  std::unordered_map<std::string, std::shared_future<CacheValue>> computing_;
  std::thread writer_;  // last: started once everything above exists
};

}  // namespace pio
