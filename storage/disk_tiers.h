// The warm and cold tiers: two RocksDB column families in one directory, warm without
// compression, cold with zstd, plus a small `meta` family (tier, size, recency per key) so a
// restart rebuilds both tiers' LRU order without reading their values. A value and its meta
// entry always change in one atomic write batch. Plain class, not thread-safe (TieredCache
// locks around it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace pio {

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
  // Opens (creating if needed) the database in `dir`. Throws std::runtime_error with RocksDB's
  // message when the directory is unusable: locked by another process, damaged, not writable.
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
  // Deletes a value and its meta (errors ignored: a dropped entry that stays is read as corrupt again).
  void erase(DiskTier tier, const std::string& key);

 private:
  rocksdb::ColumnFamilyHandle* family(DiskTier tier) const;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // default, warm, cold, meta
};

}  // namespace pio
