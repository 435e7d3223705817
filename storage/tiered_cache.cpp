#include "storage/tiered_cache.h"

#include <stdexcept>

#include "storage/value_frame.h"

namespace pio {

TieredCache::TieredCache(TieredCacheOptions options) : options_(std::move(options)) {
  if (options_.hot_bytes < 0 || options_.warm_bytes < 0 || options_.cold_bytes < 0)
    throw std::invalid_argument("cache: tier bounds must not be negative");
  hot_.stats.tier = "hot";
  warm_.stats.tier = "warm";
  cold_.stats.tier = "cold";
  hot_.limit = options_.hot_bytes;
  warm_.limit = options_.warm_bytes;
  cold_.limit = options_.cold_bytes;
  if (options_.dir.empty()) return;
  try {
    disk_ = std::make_unique<DiskTiers>(options_.dir);
    for (const DiskEntry& e : disk_->entries()) {  // oldest first, so the newest ends up in front
      index(tier(e.tier), e.key, e.bytes);
      seq_ = std::max(seq_, e.seq);
    }
    shrink();  // the bounds may be smaller than last time (no other thread sees the cache yet)
  } catch (const std::exception& e) {
    disk_.reset();
    warm_ = {};
    cold_ = {};
    warm_.stats.tier = "warm";
    cold_.stats.tier = "cold";
    disk_error_ = std::string(e.what()) + " (" + options_.dir.string() + "); the cache runs in memory only";
  }
}

TieredCache::~TieredCache() = default;

void TieredCache::index(Tier& t, const std::string& full, int64_t bytes, CacheValue value) {
  t.lru.push_front(full);
  t.entries[full] = Entry{t.lru.begin(), bytes, std::move(value)};
  t.stats.bytes += bytes;
  t.stats.entries = static_cast<int64_t>(t.entries.size());
}

void TieredCache::unindex(Tier& t, const std::string& full) {
  const auto it = t.entries.find(full);
  if (it == t.entries.end()) return;
  t.stats.bytes -= it->second.bytes;
  t.lru.erase(it->second.lru);
  t.entries.erase(it);
  t.stats.entries = static_cast<int64_t>(t.entries.size());
}

std::optional<DiskTier> TieredCache::disk_tier_of(const std::string& full) const {
  if (warm_.entries.count(full)) return DiskTier::warm;
  if (cold_.entries.count(full)) return DiskTier::cold;
  return std::nullopt;
}

void TieredCache::disk_failed(const std::exception& e) { disk_error_ = e.what(); }

CacheValue TieredCache::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  return lookup(full_key(key));
}

bool TieredCache::contains(const std::string& key) const {
  std::lock_guard lock(mutex_);
  const std::string full = full_key(key);
  return hot_.entries.count(full) || disk_tier_of(full);
}

CacheValue TieredCache::lookup(const std::string& full) {
  if (const auto it = hot_.entries.find(full); it != hot_.entries.end()) {
    hot_.lru.splice(hot_.lru.begin(), hot_.lru, it->second.lru);
    ++hot_.stats.hits;
    return it->second.value;
  }
  ++hot_.stats.misses;
  if (const auto t = disk_tier_of(full)) return read_disk(full, *t);
  if (disk_) {
    ++warm_.stats.misses;
    ++cold_.stats.misses;
  }
  return nullptr;
}

CacheValue TieredCache::read_disk(const std::string& full, DiskTier t) {
  if (t == DiskTier::cold) ++warm_.stats.misses;
  Tier& from = tier(t);
  std::string framed;
  DiskRead read = DiskRead::missing;
  try {
    read = disk_->get(t, full, framed);
  } catch (const std::exception& e) {
    disk_failed(e);
    ++from.stats.misses;
    return nullptr;
  }
  const auto payload = read == DiskRead::found ? unframe_value(full, framed) : std::nullopt;
  if (!payload) {
    if (read == DiskRead::missing) unindex(from, full);  // an index entry without its value
    else drop_corrupt(full, t);
    ++from.stats.misses;
    return nullptr;
  }
  ++from.stats.hits;
  ++from.stats.promotions;
  auto value = std::make_shared<const std::string>(*payload);
  if (t == DiskTier::cold) {
    write_disk(full, framed, DiskTier::warm, DiskTier::cold);
  } else {
    Entry& e = warm_.entries.at(full);
    warm_.lru.splice(warm_.lru.begin(), warm_.lru, e.lru);
    try {
      disk_->touch({full, DiskTier::warm, e.bytes, ++seq_});
    } catch (const std::exception& ex) {
      disk_failed(ex);
    }
  }
  insert_hot(full, value);
  shrink();
  return value;
}

void TieredCache::drop_corrupt(const std::string& full, DiskTier t) {
  ++tier(t).stats.corrupt_dropped;
  unindex(tier(t), full);
  disk_->erase(t, full);
}

void TieredCache::put(const std::string& key, std::string value, bool keep_hot) {
  const auto shared = std::make_shared<const std::string>(std::move(value));
  std::lock_guard lock(mutex_);
  store(full_key(key), shared, keep_hot);
}

void TieredCache::store(const std::string& full, const CacheValue& value, bool keep_hot) {
  if (keep_hot) insert_hot(full, value);
  if (disk_) {
    const std::string framed = frame_value(full, *value);
    const auto bytes = static_cast<int64_t>(full.size() + framed.size());
    const DiskTier to = bytes <= warm_.limit ? DiskTier::warm : DiskTier::cold;
    write_disk(full, framed, to, disk_tier_of(full));
  }
  shrink();
}

void TieredCache::insert_hot(const std::string& full, const CacheValue& value) {
  unindex(hot_, full);
  const auto bytes = static_cast<int64_t>(full.size() + value->size());
  if (bytes <= hot_.limit) index(hot_, full, bytes, value);
}

void TieredCache::write_disk(const std::string& full, std::string_view framed, DiskTier to,
                             std::optional<DiskTier> previous) {
  const auto bytes = static_cast<int64_t>(full.size() + framed.size());
  try {
    if (bytes > tier(to).limit) {  // fits no tier: forget any older copy
      if (previous) disk_->erase(*previous, full);
    } else {
      disk_->put({full, to, bytes, ++seq_}, framed, previous);
    }
  } catch (const std::exception& e) {
    disk_failed(e);
    return;
  }
  if (previous) unindex(tier(*previous), full);
  unindex(tier(to), full);
  if (bytes <= tier(to).limit) index(tier(to), full, bytes);
}

void TieredCache::shrink() {
  while (hot_.stats.bytes > hot_.limit) {
    unindex(hot_, hot_.lru.back());  // its value is in warm or cold already (write-through)
    ++hot_.stats.evictions;
  }
  while (warm_.stats.bytes > warm_.limit) {
    const std::string full = warm_.lru.back();
    ++warm_.stats.evictions;
    std::string framed;
    DiskRead read = DiskRead::missing;
    try {
      read = disk_->get(DiskTier::warm, full, framed);
    } catch (const std::exception& e) {
      disk_failed(e);
    }
    if (read == DiskRead::found && unframe_value(full, framed)) write_disk(full, framed, DiskTier::cold, DiskTier::warm);
    else if (read == DiskRead::corrupt || read == DiskRead::found) drop_corrupt(full, DiskTier::warm);
    unindex(warm_, full);  // also when a write failed, so the loop ends
  }
  while (cold_.stats.bytes > cold_.limit) {
    const std::string full = cold_.lru.back();
    disk_->erase(DiskTier::cold, full);
    unindex(cold_, full);
    ++cold_.stats.evictions;
  }
}

CacheValue TieredCache::get_or_compute(const std::string& key, const std::function<std::string()>& compute) {
  const std::string full = full_key(key);
  std::unique_lock lock(mutex_);
  if (auto value = lookup(full)) return value;
  if (const auto it = computing_.find(full); it != computing_.end()) {
    const auto pending = it->second;  // another thread computes it: wait for its result
    lock.unlock();
    return pending.get();
  }
  std::promise<CacheValue> promise;
  computing_.emplace(full, promise.get_future().share());
  lock.unlock();
  try {
    auto value = std::make_shared<const std::string>(compute());
    lock.lock();
    store(full, value, true);
    computing_.erase(full);
    promise.set_value(value);
    return value;
  } catch (...) {
    if (!lock.owns_lock()) lock.lock();
    computing_.erase(full);
    promise.set_exception(std::current_exception());
    throw;
  }
}

void TieredCache::set_hot_limit(int64_t bytes) {
  std::lock_guard lock(mutex_);
  hot_.limit = std::max<int64_t>(0, bytes);
  shrink();
}

int64_t TieredCache::hot_limit() const {
  std::lock_guard lock(mutex_);
  return hot_.limit;
}

std::vector<CacheTierStats> TieredCache::stats() const {
  std::lock_guard lock(mutex_);
  std::vector<CacheTierStats> out;
  for (const Tier* t : {&hot_, &warm_, &cold_}) {
    out.push_back(t->stats);
    out.back().limit_bytes = t == &hot_ || disk_ ? t->limit : 0;
  }
  return out;
}

bool TieredCache::has_disk() const {
  std::lock_guard lock(mutex_);
  return disk_ != nullptr;
}

std::string TieredCache::disk_error() const {
  std::lock_guard lock(mutex_);
  return disk_error_;
}

}  // namespace pio
