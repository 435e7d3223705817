// The warm and cold tiers: two RocksDB column families in one directory, warm without
// compression, cold with zstd, plus a small `meta` family (tier, size, recency per key) so a
// restart rebuilds both tiers' LRU order without reading their values. A value and its meta
// entry always change in one atomic write batch. RocksDB's info log is DIR/LOG, bounded
// (storage/info_log.h); RocksDB's own recovery from background errors is off: the owner closes
// and reopens the database instead (TieredCache). Thread-safe as RocksDB is: reads and writes
// may run on different threads; TieredCache makes sure none runs while it is destroyed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace pio {

// Thrown by DiskTiers' constructor when RocksDB finds the database damaged (Corruption: a bad
// CURRENT, MANIFEST or table file), as opposed to unusable (locked, unwritable, no space).
struct DiskDamaged : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Moves a damaged database's files (those directly in DIR; subdirectories such as the packed
// weights' stay) into a new DIR.damaged-YYYYmmdd-HHMMSS (-N if taken), whose path it returns.
// Throws std::filesystem::filesystem_error when it cannot.
std::filesystem::path move_aside(const std::filesystem::path& dir);

class BackgroundErrors;

enum class DiskTier : uint8_t { warm = 1, cold = 2 };

struct DiskEntry {
  std::string key;
  DiskTier tier = DiskTier::warm;
  int64_t bytes = 0;  // key plus framed value
  uint64_t seq = 0;   // recency: larger is more recent
};

enum class DiskRead : uint8_t { found, missing, corrupt };

class DiskTiers {
 public:
  // Opens (creating if needed) the database in `dir`. Throws DiskDamaged when it is damaged,
  // std::runtime_error with RocksDB's message when the directory is unusable: locked by another
  // process, not writable, no space.
  explicit DiskTiers(const std::filesystem::path& dir);
  ~DiskTiers();  // flushes the memtables, so values sit in checksummed table files
  DiskTiers(const DiskTiers&) = delete;
  DiskTiers& operator=(const DiskTiers&) = delete;

  // Every entry's meta, oldest first. Meta entries that do not parse are deleted.
  std::vector<DiskEntry> entries();
  // Writes the value and its meta into entry.tier, deleting the value from `previous` (the tier
  // that held it, if another). Throws std::runtime_error when RocksDB refuses the write.
  void put(const DiskEntry& entry, std::string_view framed, std::optional<DiskTier> previous);
  // Reads a value; `corrupt` when RocksDB's own block checksums fail.
  DiskRead get(DiskTier tier, const std::string& key, std::string& framed);
  // Updates an entry's recency only.
  void touch(const DiskEntry& entry);
  // Deletes a value and its meta. Throws std::runtime_error when RocksDB refuses the write.
  void erase(DiskTier tier, const std::string& key);
  // Writes and deletes a 64 KiB probe value: throws std::runtime_error when writing fails.
  void probe();
  // The first error RocksDB reported from its background work (a flush or a compaction that
  // failed, a write that stopped the database), or empty. Any thread.
  std::string background_error() const;

 private:
  rocksdb::ColumnFamilyHandle* family(DiskTier tier) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // default, warm, cold, meta
  std::shared_ptr<BackgroundErrors> errors_;
};

}  // namespace pio
