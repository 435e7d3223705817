#include "storage/disk_tiers.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <rocksdb/db.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "storage/info_log.h"

namespace pio {

// Keeps RocksDB's first background error, and turns its automatic recovery off (the owner
// reopens the database instead, from a known state).
class BackgroundErrors : public rocksdb::EventListener {
 public:
  void OnBackgroundError(rocksdb::BackgroundErrorReason, rocksdb::Status* error) override {
    std::lock_guard lock(mutex_);
    if (first_.empty()) first_ = error->ToString();
  }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status, bool* auto_recovery) override {
    *auto_recovery = false;
  }
  std::string first() const {
    std::lock_guard lock(mutex_);
    return first_;
  }

 private:
  mutable std::mutex mutex_;
  std::string first_;
};

namespace {

constexpr size_t kMetaBytes = 17;  // tier 1, bytes 8, seq 8
constexpr size_t kInfoLogBytes = size_t{1} << 20;
constexpr size_t kInfoLogFiles = 2;  // LOG.1, LOG.2 beside LOG

void check(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) throw std::runtime_error(std::string("cache database: ") + what + ": " + s.ToString());
}

// RocksDB's own rolled info logs (LOG.old.*), left by a version that used its logger.
void remove_old_info_logs(const std::filesystem::path& dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().starts_with("LOG.old.")) std::filesystem::remove(it->path(), ec);
}

std::string encode_meta(const DiskEntry& e) {
  std::string out(kMetaBytes, '\0');
  out[0] = static_cast<char>(e.tier);
  std::memcpy(out.data() + 1, &e.bytes, 8);
  std::memcpy(out.data() + 9, &e.seq, 8);
  return out;
}

}  // namespace

std::filesystem::path move_aside(const std::filesystem::path& dir) {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::gmtime(&now));
  std::filesystem::path to = dir.string() + ".damaged-" + stamp;
  for (int n = 1; std::filesystem::exists(to); ++n) to = dir.string() + ".damaged-" + stamp + "-" + std::to_string(n);
  std::filesystem::create_directory(to);
  std::vector<std::filesystem::path> files;  // RocksDB's files; subdirectories (pio's packed weights) stay
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (!e.is_directory()) files.push_back(e.path());
  for (const auto& f : files) std::filesystem::rename(f, to / f.filename());
  return to;
}

DiskTiers::DiskTiers(const std::filesystem::path& dir) : errors_(std::make_shared<BackgroundErrors>()) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_open_files = 256;
  db_options.listeners.push_back(errors_);
  rocksdb::ColumnFamilyOptions warm, cold, meta;
  warm.compression = rocksdb::kNoCompression;
  cold.compression = rocksdb::kZSTD;
  const std::vector<rocksdb::ColumnFamilyDescriptor> families{
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()}, {"warm", warm}, {"cold", cold}, {"meta", meta}};
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);  // a failure shows in Open's message
  remove_old_info_logs(dir);
  db_options.info_log = make_info_log(dir, kInfoLogBytes, kInfoLogFiles);
  rocksdb::DB* db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(db_options, dir.string(), families, &handles_, &db);
  if (s.IsCorruption()) throw DiskDamaged("cache database: open: " + s.ToString());
  check(s, "open");
  db_.reset(db);
}

DiskTiers::~DiskTiers() {
  db_->Flush(rocksdb::FlushOptions(), handles_);  // best effort: the WAL holds what it misses
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

rocksdb::ColumnFamilyHandle* DiskTiers::family(DiskTier tier) const { return handles_[static_cast<size_t>(tier)]; }

std::vector<DiskEntry> DiskTiers::entries() {
  std::vector<DiskEntry> out;
  std::vector<std::string> bad;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[3]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice v = it->value();
    DiskEntry e;
    e.key = it->key().ToString();
    if (v.size() != kMetaBytes || (v[0] != 1 && v[0] != 2)) {
      bad.push_back(e.key);
      continue;
    }
    e.tier = static_cast<DiskTier>(v[0]);
    std::memcpy(&e.bytes, v.data() + 1, 8);
    std::memcpy(&e.seq, v.data() + 9, 8);
    out.push_back(std::move(e));
  }
  if (it->status().IsCorruption()) throw DiskDamaged("cache database: reading the index: " + it->status().ToString());
  check(it->status(), "reading the index");
  for (const auto& key : bad) db_->Delete(rocksdb::WriteOptions(), handles_[3], key);
  std::sort(out.begin(), out.end(), [](const DiskEntry& a, const DiskEntry& b) { return a.seq < b.seq; });
  return out;
}

void DiskTiers::put(const DiskEntry& entry, std::string_view framed, std::optional<DiskTier> previous) {
  rocksdb::WriteBatch batch;
  batch.Put(family(entry.tier), entry.key, rocksdb::Slice(framed.data(), framed.size()));
  batch.Put(handles_[3], entry.key, encode_meta(entry));
  if (previous && *previous != entry.tier) batch.Delete(family(*previous), entry.key);
  check(db_->Write(rocksdb::WriteOptions(), &batch), "write");
}

DiskRead DiskTiers::get(DiskTier tier, const std::string& key, std::string& framed) {
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), family(tier), key, &framed);
  if (s.ok()) return DiskRead::found;
  if (s.IsNotFound()) return DiskRead::missing;
  if (s.IsCorruption()) return DiskRead::corrupt;
  check(s, "read");
  return DiskRead::missing;
}

void DiskTiers::touch(const DiskEntry& entry) {
  check(db_->Put(rocksdb::WriteOptions(), handles_[3], entry.key, encode_meta(entry)), "write");
}

void DiskTiers::probe() {
  const std::string value(size_t{64} << 10, 'p');
  check(db_->Put(rocksdb::WriteOptions(), handles_[0], "probe", value), "write");
  check(db_->Delete(rocksdb::WriteOptions(), handles_[0], "probe"), "write");
}

std::string DiskTiers::background_error() const { return errors_->first(); }

void DiskTiers::erase(DiskTier tier, const std::string& key) {
  rocksdb::WriteBatch batch;
  batch.Delete(family(tier), key);
  batch.Delete(handles_[3], key);
  check(db_->Write(rocksdb::WriteOptions(), &batch), "write");
}

}  // namespace pio
