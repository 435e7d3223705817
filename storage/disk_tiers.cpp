#include "storage/disk_tiers.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

namespace pio {
namespace {

constexpr size_t kMetaBytes = 17;  // tier 1, bytes 8, seq 8

void check(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) throw std::runtime_error(std::string("cache database: ") + what + ": " + s.ToString());
}

std::string encode_meta(const DiskEntry& e) {
  std::string out(kMetaBytes, '\0');
  out[0] = static_cast<char>(e.tier);
  std::memcpy(out.data() + 1, &e.bytes, 8);
  std::memcpy(out.data() + 9, &e.seq, 8);
  return out;
}

}  // namespace

DiskTiers::DiskTiers(const std::filesystem::path& dir) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_open_files = 256;
  rocksdb::ColumnFamilyOptions warm, cold, meta;
  warm.compression = rocksdb::kNoCompression;
  cold.compression = rocksdb::kZSTD;
  const std::vector<rocksdb::ColumnFamilyDescriptor> families{
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()}, {"warm", warm}, {"cold", cold}, {"meta", meta}};
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);  // a failure shows in Open's message
  rocksdb::DB* db = nullptr;
  check(rocksdb::DB::Open(db_options, dir.string(), families, &handles_, &db), "open");
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

void DiskTiers::erase(DiskTier tier, const std::string& key) {
  rocksdb::WriteBatch batch;
  batch.Delete(family(tier), key);
  batch.Delete(handles_[3], key);
  db_->Write(rocksdb::WriteOptions(), &batch);
}

}  // namespace pio
