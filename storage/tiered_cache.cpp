#include "storage/tiered_cache.h"

#include <algorithm>
#include <stdexcept>

#include "storage/value_frame.h"

namespace pio {
namespace {

std::string seconds(double s) {
  std::string out = std::to_string(s);
  out.erase(out.find_last_not_of('0') + 1);
  if (out.back() == '.') out.pop_back();
  return out;
}

}  // namespace

TieredCache::TieredCache(TieredCacheOptions options)
    : options_(std::move(options)), queue_(options_.write_queue_bytes, options_.write_queue_jobs) {
  if (options_.hot_bytes < 0 || options_.warm_bytes < 0 || options_.cold_bytes < 0)
    throw std::invalid_argument("cache: tier bounds must not be negative");
  hot_.stats.tier = "hot";
  warm_.stats.tier = "warm";
  cold_.stats.tier = "cold";
  hot_.limit = options_.hot_bytes;
  warm_.limit = options_.warm_bytes;
  cold_.limit = options_.cold_bytes;
  if (options_.dir.empty()) return;
  backoff_s_ = options_.retry_initial_s;
  try {
    install(open_disk(false));  // no other thread sees the cache yet
  } catch (const std::exception& e) {
    disk_error_ = std::string(e.what()) + " (" + options_.dir.string() + "); the cache runs in memory only";
    retry_at_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(backoff_s_));
    backoff_s_ = std::min(backoff_s_ * 2, options_.retry_max_s);
  }
  writer_ = std::thread([this] { run_writer(); });
}

TieredCache::~TieredCache() {
  if (!writer_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
}

TieredCache::Opened TieredCache::open_disk(bool probe) const {
  Opened o;
  const auto open = [&] {
    o.disk = std::make_unique<DiskTiers>(options_.dir);
    o.entries = o.disk->entries();
  };
  try {
    open();
  } catch (const DiskDamaged&) {
    o.disk.reset();
    o.moved = move_aside(options_.dir).string();
    open();
  }
  if (probe) o.disk->probe();
  return o;
}

void TieredCache::install(Opened o) {
  for (Tier* t : {&warm_, &cold_}) {
    t->lru.clear();
    t->entries.clear();
    t->stats.bytes = 0;
    t->stats.entries = 0;
  }
  disk_ = std::move(o.disk);
  for (const DiskEntry& e : o.entries) {  // oldest first, so the newest ends up in front
    index(tier(e.tier), e.key, e.bytes);
    seq_ = std::max(seq_, e.seq);
  }
  recovered_ = static_cast<int64_t>(o.entries.size());
  moved_aside_ = o.moved;
  disk_error_.clear();
  up_since_ = Clock::now();
  shrink();  // the bounds may be smaller than last time
}

void TieredCache::say(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void TieredCache::run_writer() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (disk_) {
      const std::string why = !read_error_.empty() ? read_error_ : disk_->background_error();
      if (!why.empty()) {
        disk_off(lock, why);
        continue;
      }
    }
    if (disk_ && !queue_.empty()) {
      DiskJob job = queue_.pop();
      DiskTiers& disk = *disk_;  // only this thread turns the disk off
      writing_ = true;
      lock.unlock();
      std::string error;
      try {
        run_job(disk, job);
      } catch (const std::exception& e) {
        error = e.what();
      }
      lock.lock();
      writing_ = false;
      if (job.kind == DiskJob::Kind::write)
        if (const auto it = queued_values_.find(job.entry.key); it != queued_values_.end() && it->second.seq == job.entry.seq)
          queued_values_.erase(it);
      if (!error.empty()) disk_off(lock, error);
      continue;
    }
    drained_.notify_all();
    if (stopping_) return;
    if (disk_) {
      // Woken by new work or stopping; the timeout catches a background error (RocksDB's thread
      // does not wake this one).
      wake_.wait_for(lock, std::chrono::seconds(1));
    } else {
      wake_.wait_until(lock, retry_at_);
      if (!stopping_ && Clock::now() >= retry_at_) try_reopen(lock);
    }
  }
}

void TieredCache::run_job(DiskTiers& disk, DiskJob& job) {
  switch (job.kind) {
    case DiskJob::Kind::write:
      if (job.value) job.framed = frame_value(job.entry.key, *job.value);  // here, not on the caller's thread
      disk.put(job.entry, job.framed, job.previous);
      return;
    case DiskJob::Kind::touch: disk.touch(job.entry); return;
    case DiskJob::Kind::erase: disk.erase(job.entry.tier, job.entry.key); return;
    case DiskJob::Kind::demote: {
      std::string framed;
      const DiskRead read = disk.get(DiskTier::warm, job.entry.key, framed);
      if (read == DiskRead::found && unframe_value(job.entry.key, framed))
        disk.put(job.entry, framed, DiskTier::warm);
      else if (read != DiskRead::missing)
        disk.erase(DiskTier::warm, job.entry.key);  // a damaged value is not worth keeping (a read drops it from the index)
      return;
    }
  }
}

void TieredCache::disk_off(std::unique_lock<std::mutex>& lock, const std::string& why) {
  std::unique_ptr<DiskTiers> old = std::move(disk_);  // callers see memory only from here on
  queue_.clear();
  queued_values_.clear();
  read_error_.clear();
  for (Tier* t : {&warm_, &cold_}) {
    t->lru.clear();
    t->entries.clear();
    t->stats.bytes = 0;
    t->stats.entries = 0;
  }
  const auto now = Clock::now();
  if (now - up_since_ > std::chrono::duration<double>(options_.retry_max_s)) backoff_s_ = options_.retry_initial_s;
  retry_at_ = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(backoff_s_));
  disk_error_ = why + " (" + options_.dir.string() + "); the cache runs in memory only";
  say("cache: the disk tiers are off: " + why + " (" + options_.dir.string() + "); serving from memory, retrying in " +
      seconds(backoff_s_) + " s");
  backoff_s_ = std::min(backoff_s_ * 2, options_.retry_max_s);
  drained_.notify_all();
  drained_.wait(lock, [&] { return readers_ == 0; });
  lock.unlock();
  old.reset();  // closes the database (its flush may fail on a full disk: the WAL keeps what it misses)
  lock.lock();
}

void TieredCache::try_reopen(std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  Opened opened;
  std::string error;
  try {
    opened = open_disk(true);
  } catch (const std::exception& e) {
    error = e.what();
  }
  lock.lock();
  if (!error.empty()) {
    retry_at_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(backoff_s_));
    backoff_s_ = std::min(backoff_s_ * 2, options_.retry_max_s);
    return;  // still off: said when it went off
  }
  install(std::move(opened));
  say("cache: the disk tiers are back in " + options_.dir.string() + " (" + std::to_string(recovered_) + " entries" +
      (moved_aside_.empty() ? std::string() : "; a damaged database was moved to " + moved_aside_) + ")");
  wake_.notify_all();
}

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

bool TieredCache::queue(DiskJob job) {
  if (!queue_.push(std::move(job))) return false;
  wake_.notify_all();
  return true;
}

std::optional<DiskTier> TieredCache::disk_tier_of(const std::string& full) const {
  if (warm_.entries.count(full)) return DiskTier::warm;
  if (cold_.entries.count(full)) return DiskTier::cold;
  return std::nullopt;
}

CacheValue TieredCache::get(const std::string& key) {
  std::unique_lock lock(mutex_);
  return lookup(lock, full_key(key));
}

CacheValue TieredCache::get_in_memory(const std::string& key) {
  std::lock_guard lock(mutex_);
  const std::string full = full_key(key);
  if (const auto it = hot_.entries.find(full); it != hot_.entries.end()) {
    hot_.lru.splice(hot_.lru.begin(), hot_.lru, it->second.lru);
    ++hot_.stats.hits;
    return it->second.value;
  }
  const auto q = queued_values_.find(full);
  return q != queued_values_.end() ? q->second.value : nullptr;
}

bool TieredCache::in_memory(const std::string& key) const {
  std::lock_guard lock(mutex_);
  const std::string full = full_key(key);
  return hot_.entries.count(full) || queued_values_.count(full);
}

bool TieredCache::contains(const std::string& key) const {
  std::lock_guard lock(mutex_);
  const std::string full = full_key(key);
  return hot_.entries.count(full) || disk_tier_of(full);
}

std::vector<std::string> TieredCache::disk_only(const std::vector<std::string>& keys) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& key : keys) {
    const std::string full = full_key(key);
    if (!hot_.entries.count(full) && disk_tier_of(full)) out.push_back(key);
  }
  return out;
}

size_t TieredCache::prefetch(const std::vector<std::string>& keys) {
  std::unique_lock lock(mutex_);
  size_t hot = 0;
  for (const auto& key : keys) {
    const std::string full = full_key(key);
    if (!hot_.entries.count(full) && !disk_tier_of(full)) continue;
    if (lookup(lock, full) && hot_.entries.count(full)) ++hot;
  }
  return hot;
}

CacheValue TieredCache::lookup(std::unique_lock<std::mutex>& lock, const std::string& full) {
  if (const auto it = hot_.entries.find(full); it != hot_.entries.end()) {
    hot_.lru.splice(hot_.lru.begin(), hot_.lru, it->second.lru);
    ++hot_.stats.hits;
    return it->second.value;
  }
  ++hot_.stats.misses;
  if (const auto t = disk_tier_of(full)) return read_disk(lock, full, *t);
  if (disk_) {
    ++warm_.stats.misses;
    ++cold_.stats.misses;
  }
  return nullptr;
}

CacheValue TieredCache::read_disk(std::unique_lock<std::mutex>& lock, const std::string& full, DiskTier t) {
  if (t == DiskTier::cold) ++warm_.stats.misses;
  std::string framed;
  std::optional<std::string> payload;
  DiskRead read = DiskRead::missing;
  CacheValue queued;
  if (const auto q = queued_values_.find(full); q != queued_values_.end()) {
    queued = q->second.value;  // written soon: the queue holds it
    read = DiskRead::found;
  } else {
    // The read runs without the lock, so that the engine's own cache calls never wait for
    // another thread's disk read; disk_off() waits for it before closing the database.
    DiskTiers* disk = disk_.get();
    ++readers_;
    lock.unlock();
    std::string error;
    try {
      read = disk->get(t, full, framed);
      // A demotion or promotion still queued: the value is in the other tier for now. Or the move
      // (one atomic batch) committed between those two reads: then it is in t.
      if (read == DiskRead::missing)
        read = disk->get(t == DiskTier::warm ? DiskTier::cold : DiskTier::warm, full, framed);
      if (read == DiskRead::missing) read = disk->get(t, full, framed);
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    if (--readers_ == 0) drained_.notify_all();
    if (!error.empty() && disk_.get() == disk) {
      read_error_ = error;  // the writer turns the disk off
      wake_.notify_all();
    }
    if (read == DiskRead::found) payload = unframe_value(full, framed);
    if (disk_.get() != disk || disk_tier_of(full) != t) {  // the disk went off, or the entry moved meanwhile
      if (!payload) return nullptr;
      auto value = std::make_shared<const std::string>(std::move(*payload));
      insert_hot(full, value);
      shrink();
      return value;
    }
  }
  Tier& from = tier(t);
  if (!queued && !payload) {
    if (read == DiskRead::missing) unindex(from, full);  // an index entry without its value
    else drop_corrupt(full, t);
    ++from.stats.misses;
    return nullptr;
  }
  ++from.stats.hits;
  ++from.stats.promotions;
  CacheValue value = queued ? queued : std::make_shared<const std::string>(std::move(*payload));
  const int64_t bytes = from.entries.at(full).bytes;
  if (t == DiskTier::cold && bytes <= warm_.limit &&
      queue({DiskJob::Kind::write, {full, DiskTier::warm, bytes, ++seq_}, DiskTier::cold, std::move(framed), queued})) {
    unindex(cold_, full);
    index(warm_, full, bytes);
  } else {
    Entry& e = from.entries.at(full);
    from.lru.splice(from.lru.begin(), from.lru, e.lru);
    queue({DiskJob::Kind::touch, {full, t, bytes, ++seq_}, std::nullopt, {}});  // recency only: dropped when full
  }
  insert_hot(full, value);
  shrink();
  return value;
}

void TieredCache::drop_corrupt(const std::string& full, DiskTier t) {
  ++tier(t).stats.corrupt_dropped;
  const int64_t bytes = tier(t).entries.at(full).bytes;
  unindex(tier(t), full);
  queue({DiskJob::Kind::erase, {full, t, bytes, 0}, std::nullopt, {}});
}

void TieredCache::put(const std::string& key, std::string value, bool keep_hot) {
  const auto shared = std::make_shared<const std::string>(std::move(value));
  std::lock_guard lock(mutex_);
  store(full_key(key), shared, keep_hot);
}

void TieredCache::store(const std::string& full, const CacheValue& value, bool keep_hot) {
  if (keep_hot) insert_hot(full, value);
  if (disk_) {
    const auto bytes = static_cast<int64_t>(full.size() + kValueFrameHeader + value->size());
    const DiskTier to = bytes <= warm_.limit ? DiskTier::warm : DiskTier::cold;
    const auto previous = disk_tier_of(full);
    if (bytes > tier(to).limit) {  // fits no tier: forget any older copy
      if (previous && queue({DiskJob::Kind::erase, {full, *previous, bytes, 0}, std::nullopt, {}}))
        unindex(tier(*previous), full);
    } else if (const uint64_t seq = ++seq_; queue({DiskJob::Kind::write, {full, to, bytes, seq}, previous, {}, value})) {
      queued_values_[full] = Queued{value, seq};
      if (previous) unindex(tier(*previous), full);
      index(tier(to), full, bytes);
    }
  }
  shrink();
}

void TieredCache::insert_hot(const std::string& full, const CacheValue& value) {
  unindex(hot_, full);
  const auto bytes = static_cast<int64_t>(full.size() + value->size());
  if (bytes <= hot_.limit) index(hot_, full, bytes, value);
}

void TieredCache::shrink() {
  while (hot_.stats.bytes > hot_.limit) {
    unindex(hot_, hot_.lru.back());  // its value is in warm or cold, or on its way there
    ++hot_.stats.evictions;
  }
  while (warm_.stats.bytes > warm_.limit) {
    const std::string full = warm_.lru.back();
    const int64_t bytes = warm_.entries.at(full).bytes;
    ++warm_.stats.evictions;
    unindex(warm_, full);
    if (bytes <= cold_.limit && queue({DiskJob::Kind::demote, {full, DiskTier::cold, bytes, ++seq_}, std::nullopt, {}}))
      index(cold_, full, bytes);
    else
      queue({DiskJob::Kind::erase, {full, DiskTier::warm, bytes, 0}, std::nullopt, {}});  // dropped: deleted at a restart's shrink
  }
  while (cold_.stats.bytes > cold_.limit) {
    const std::string full = cold_.lru.back();
    const int64_t bytes = cold_.entries.at(full).bytes;
    unindex(cold_, full);
    queue({DiskJob::Kind::erase, {full, DiskTier::cold, bytes, 0}, std::nullopt, {}});
    ++cold_.stats.evictions;
  }
}

CacheValue TieredCache::get_or_compute(const std::string& key, const std::function<std::string()>& compute) {
  const std::string full = full_key(key);
  std::unique_lock lock(mutex_);
  if (auto value = lookup(lock, full)) return value;
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

void TieredCache::flush() {
  std::unique_lock lock(mutex_);
  drained_.wait(lock, [&] { return !disk_ || (queue_.empty() && !writing_); });
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

int64_t TieredCache::recovered() const {
  std::lock_guard lock(mutex_);
  return recovered_;
}

std::string TieredCache::moved_aside() const {
  std::lock_guard lock(mutex_);
  return moved_aside_;
}

int64_t TieredCache::dropped_writes() const {
  std::lock_guard lock(mutex_);
  return queue_.dropped();
}

}  // namespace pio
