// The cache's writer thread and its disk faults: the bounded write queue, a disk that fails (a
// real fault: the file-size limit makes RocksDB's writes fail with EFBIG) and recovers, writes
// dropped rather than waited for, prefetching, and the bounded info log.
#include <boost/test/unit_test.hpp>

#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <mutex>
#include <thread>

#include <rocksdb/env.h>

#include "storage/info_log.h"
#include "storage/tiered_cache.h"
#include "storage/write_queue.h"
#include "support/temp_dir.h"

namespace pio {
namespace {

DiskJob write_job(const std::string& key, size_t bytes) {
  return {DiskJob::Kind::write, {key, DiskTier::warm, static_cast<int64_t>(bytes), 1}, std::nullopt, std::string(bytes, 'v')};
}

const CacheTierStats& tier(const std::vector<CacheTierStats>& stats, const std::string& name) {
  for (const auto& t : stats)
    if (t.tier == name) return t;
  throw std::runtime_error("no tier " + name);
}

// Lines the cache says, collected across its writer thread.
struct Said {
  std::mutex mutex;
  std::vector<std::string> lines;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& line) {
      std::lock_guard lock(mutex);
      lines.push_back(line);
    };
  }
  size_t count(const std::string& part) {
    std::lock_guard lock(mutex);
    size_t n = 0;
    for (const auto& l : lines) n += l.find(part) != std::string::npos;
    return n;
  }
};

// Limits the size of every file this process writes (RLIMIT_FSIZE) while it lives: writes past
// it fail with EFBIG, as a full disk fails them with ENOSPC.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &saved_);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    BOOST_REQUIRE(setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~FileSizeLimit() { lift(); }
  void lift() { setrlimit(RLIMIT_FSIZE, &saved_); }

 private:
  rlimit saved_{};
};

template <class F>
bool eventually(F done, double seconds = 10) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(write_queue)

BOOST_AUTO_TEST_CASE(jobs_leave_in_order_and_a_full_queue_refuses_them) {
  WriteQueue q(3000, 3);
  BOOST_TEST(q.push(write_job("a", 1000)));
  BOOST_TEST(q.push(write_job("b", 1500)));
  BOOST_TEST(!q.push(write_job("c", 600)));  // 3100 bytes would pass 3000
  BOOST_TEST(q.push(write_job("d", 500)));
  BOOST_TEST(!q.push({DiskJob::Kind::touch, {"e", DiskTier::warm, 1, 1}, std::nullopt, {}}));  // a fourth job
  BOOST_TEST(q.dropped() == 2);
  BOOST_TEST(q.bytes() == 3000);
  BOOST_TEST(q.pop().entry.key == "a");
  BOOST_TEST(q.push(write_job("f", 900)));  // room again
  for (const char* k : {"b", "d", "f"}) BOOST_TEST(q.pop().entry.key == k);
  BOOST_TEST(q.empty());
  BOOST_TEST(q.bytes() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(disk_faults)

// A write queue smaller than one value: every disk write is dropped at once (nothing waits),
// the hot tier still answers, and nothing reaches the disk.
BOOST_AUTO_TEST_CASE(a_full_write_queue_drops_disk_writes_and_hot_still_answers) {
  test::TempDir dir("cache-drops");
  {
    TieredCacheOptions o{dir.path(), "fp", 1 << 20, 1 << 20, 1 << 20};
    o.write_queue_bytes = 100;
    TieredCache cache(std::move(o));
    for (int i = 0; i < 5; ++i) cache.put("k" + std::to_string(i), std::string(1000, 'x'));
    cache.flush();
    BOOST_TEST(cache.dropped_writes() == 5);
    BOOST_TEST(cache.has_disk());
    BOOST_TEST(tier(cache.stats(), "warm").entries == 0);  // the index says what the disk holds
    for (int i = 0; i < 5; ++i) BOOST_TEST(cache.get("k" + std::to_string(i)));
  }
  BOOST_TEST(TieredCache({dir.path(), "fp", 1 << 20, 1 << 20, 1 << 20}).recovered() == 0);
}

// A real write failure (EFBIG past RLIMIT_FSIZE) turns the disk tiers off: said once, the cache
// serving from memory; once writing works again the writer reopens the database, says so, and
// later writes reach the disk.
BOOST_AUTO_TEST_CASE(a_failing_disk_goes_memory_only_and_recovers) {
  test::TempDir dir("cache-fail");
  Said said;
  TieredCacheOptions o{dir.path(), "fp", 8 << 20, 64 << 20, 64 << 20};
  o.retry_initial_s = 0.05;
  o.retry_max_s = 0.2;
  o.log = said.sink();
  const std::string value(64 << 10, 'v');
  {
    TieredCache cache(o);
    cache.put("before", value);
    cache.flush();
    BOOST_TEST(cache.has_disk());
    {
      FileSizeLimit limit(16 << 10);  // past the WAL and the info log (RocksDB's own logger then aborts)
      for (int i = 0; i < 20; ++i) cache.put("k" + std::to_string(i), value);
      BOOST_TEST(eventually([&] { return !cache.has_disk(); }));
      BOOST_TEST(said.count("the disk tiers are off") == 1);
      BOOST_TEST(cache.disk_error().find("memory only") != std::string::npos, cache.disk_error());
      // Still off while the limit holds (reopening fails quietly); every value still served.
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      for (int i = 0; i < 20; ++i) cache.put("m" + std::to_string(i), value);
      BOOST_TEST(said.count("the disk tiers are off") <= 2);
      for (int i = 0; i < 20; ++i) BOOST_TEST(cache.get("k" + std::to_string(i)));
      BOOST_TEST(cache.get("before"));
    }
    BOOST_TEST(eventually([&] { return cache.has_disk(); }));
    BOOST_TEST(said.count("the disk tiers are back") >= 1);
    BOOST_TEST(cache.disk_error().empty(), cache.disk_error());
    cache.put("after", value);
    cache.flush();
  }
  TieredCache reopened(o);
  BOOST_TEST(reopened.has_disk());
  BOOST_TEST(reopened.contains("before"));
  BOOST_TEST(reopened.contains("after"));
  BOOST_TEST(reopened.get("after"));
}

// Blocks stored without keeping them hot, in a new process: prefetch reads them into hot, so
// the next get() is a hot hit (no disk read on the caller that needs them fast).
BOOST_AUTO_TEST_CASE(prefetch_reads_disk_entries_into_hot) {
  test::TempDir dir("cache-prefetch");
  const TieredCacheOptions o{dir.path(), "fp", 1 << 20, 1 << 20, 1 << 20};
  {
    TieredCache cache(o);
    for (const char* k : {"kv/a", "kv/b", "kv/c"}) cache.put(k, std::string(1000, k[3]), false);
  }
  TieredCache cache(o);
  BOOST_TEST(tier(cache.stats(), "hot").entries == 0);
  BOOST_TEST(cache.prefetch({"kv/a", "kv/c", "kv/missing"}) == 2);
  BOOST_TEST(tier(cache.stats(), "hot").entries == 2);
  BOOST_TEST(*cache.get("kv/c") == std::string(1000, 'c'));
  BOOST_TEST(tier(cache.stats(), "hot").hits == 1);
}

// RocksDB's info log rotates at its size bound and keeps a bounded number of old files.
BOOST_AUTO_TEST_CASE(the_info_log_is_bounded) {
  test::TempDir dir("cache-log");
  {
    auto log = make_info_log(dir.path(), 4096, 2);
    for (int i = 0; i < 2000; ++i) rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, log, "line %d of the info log", i);
  }
  size_t files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
    ++files;
    BOOST_TEST(f.file_size() <= 4096u + 200u, f.path());
  }
  BOOST_TEST(files == 3u);  // LOG, LOG.1, LOG.2
  BOOST_TEST(std::filesystem::exists(dir.path() / "LOG.2"));

  // The cache's database logs there, and clears the LOG.old.* files RocksDB's own logger left.
  test::TempDir db("cache-db-log");
  std::ofstream(db.path() / "LOG.old.1700000000000000") << "old";
  { TieredCache cache({db.path(), "fp", 1 << 20, 1 << 20, 1 << 20}); }
  BOOST_TEST(std::filesystem::file_size(db.path() / "LOG") > 0u);
  BOOST_TEST(!std::filesystem::exists(db.path() / "LOG.old.1700000000000000"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pio
