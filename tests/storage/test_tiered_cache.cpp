#define BOOST_TEST_MODULE storage
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include <rocksdb/db.h>

#include "storage/tiered_cache.h"
#include "support/temp_dir.h"

namespace pio {
namespace {

// Key "k" under fingerprint "fpA" is "fpA/k": 5 bytes. A 1000-byte value then takes 1005 bytes
// in hot and 1029 on disk (the 24-byte frame), so these bounds hold 1 hot and 2 warm, 2 cold.
constexpr int64_t kHot = 1100, kWarm = 2100, kCold = 2100;

std::string value_of(const std::string& key, size_t n = 1000) {
  std::string v;
  while (v.size() < n) v += key + ":";
  v.resize(n);
  return v;
}

TieredCacheOptions options(const std::filesystem::path& dir, const std::string& fingerprint = "fpA") {
  return {dir, fingerprint, kHot, kWarm, kCold};
}

const CacheTierStats& tier(const std::vector<CacheTierStats>& stats, const std::string& name) {
  for (const auto& t : stats)
    if (t.tier == name) return t;
  throw std::runtime_error("no tier " + name);
}

std::string text(const CacheValue& v) { return v ? *v : std::string("<miss>"); }

// Opens the cache's database with RocksDB itself, to damage it as a disk or another program might.
struct RawDb {
  explicit RawDb(const std::filesystem::path& dir) {
    std::vector<rocksdb::ColumnFamilyDescriptor> families{{rocksdb::kDefaultColumnFamilyName, {}}, {"warm", {}},
                                                          {"cold", {}}, {"meta", {}}};
    rocksdb::DB* raw = nullptr;
    BOOST_REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), dir.string(), families, &handles, &raw).ok());
    db.reset(raw);
  }
  ~RawDb() {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    db->Close();
  }
  std::string get(const std::string& key) {
    std::string v;
    BOOST_REQUIRE(db->Get({}, handles[1], key, &v).ok());
    return v;
  }
  void put(const std::string& key, const std::string& v) { BOOST_REQUIRE(db->Put({}, handles[1], key, v).ok()); }
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(tiered_cache)

BOOST_AUTO_TEST_CASE(hot_evicts_its_least_recently_used_entry) {
  TieredCache cache({{}, "fp", 3 * 1004, 0, 0});  // memory only; "fp/x" + 1000 bytes = 1004
  for (const char* k : {"a", "b", "c"}) cache.put(k, value_of(k));
  BOOST_TEST(text(cache.get("a")) == value_of("a"));  // a is now the most recent
  cache.put("d", value_of("d"));                      // evicts b, the least recent
  BOOST_TEST(!cache.get("b"));
  for (const char* k : {"a", "c", "d"}) BOOST_TEST(text(cache.get(k)) == value_of(k));
  const auto hot = tier(cache.stats(), "hot");
  BOOST_TEST(hot.entries == 3);
  BOOST_TEST(hot.bytes == 3 * 1004);
  BOOST_TEST(hot.evictions == 1);
  BOOST_TEST(hot.hits == 4);
  BOOST_TEST(hot.misses == 1);
  BOOST_TEST(!cache.has_disk());
  BOOST_TEST(cache.disk_error().empty());
}

BOOST_AUTO_TEST_CASE(warm_demotes_into_cold_and_cold_drops_its_oldest) {
  test::TempDir dir("cache-demote");
  TieredCache cache(options(dir.path()));
  for (const char* k : {"a", "b", "c", "d", "e"}) cache.put(k, value_of(k));
  // warm {e, d}, cold {c, b}: a was demoted, then dropped from cold.
  auto s = cache.stats();
  BOOST_TEST(tier(s, "hot").entries == 1);
  BOOST_TEST(tier(s, "warm").entries == 2);
  BOOST_TEST(tier(s, "cold").entries == 2);
  BOOST_TEST(tier(s, "warm").evictions == 3);
  BOOST_TEST(tier(s, "cold").evictions == 1);
  BOOST_TEST(!cache.get("a"));
  BOOST_TEST(!cache.contains("a"));
  // b is read from cold: promoted to hot and back into warm, which demotes d.
  BOOST_TEST(text(cache.get("b")) == value_of("b"));
  s = cache.stats();
  BOOST_TEST(tier(s, "cold").hits == 1);
  BOOST_TEST(tier(s, "cold").promotions == 1);
  BOOST_TEST(tier(s, "warm").evictions == 4);
  BOOST_TEST(tier(s, "hot").entries == 1);
  // b is hot now: the next read costs no disk access.
  BOOST_TEST(text(cache.get("b")) == value_of("b"));
  BOOST_TEST(tier(cache.stats(), "hot").hits == 1);
  // e stayed in warm, d went to cold: both still read back.
  BOOST_TEST(text(cache.get("e")) == value_of("e"));
  BOOST_TEST(tier(cache.stats(), "warm").hits == 1);
  BOOST_TEST(text(cache.get("d")) == value_of("d"));
  BOOST_TEST(tier(cache.stats(), "cold").hits == 2);
}

BOOST_AUTO_TEST_CASE(every_tier_stays_within_its_bound) {
  test::TempDir dir("cache-bounds");
  TieredCache cache({dir.path(), "fp", 5000, 9000, 12000});
  for (int i = 0; i < 60; ++i) {
    const std::string k = "k" + std::to_string(i);
    cache.put(k, value_of(k, 100 + static_cast<size_t>(i * 37 % 1500)));
    for (const auto& t : cache.stats()) BOOST_TEST(t.bytes <= t.limit_bytes, t.tier << " after " << k);
  }
  // A value larger than hot is kept on disk only; one larger than every tier is not kept at all.
  cache.put("big", value_of("big", 6000));
  BOOST_TEST(text(cache.get("big")) == value_of("big", 6000));
  BOOST_TEST(tier(cache.stats(), "warm").hits == 1);
  cache.put("huge", value_of("huge", 20000));
  BOOST_TEST(!cache.get("huge"));
}

BOOST_AUTO_TEST_CASE(a_new_process_sees_warm_and_cold_entries_in_their_order) {
  test::TempDir dir("cache-restart");
  {
    TieredCache cache(options(dir.path()));
    for (const char* k : {"a", "b", "c"}) cache.put(k, value_of(k));  // warm {c, b}, cold {a}
  }
  {
    TieredCache cache(options(dir.path()));
    auto s = cache.stats();
    BOOST_TEST(tier(s, "hot").entries == 0);
    BOOST_TEST(tier(s, "warm").entries == 2);
    BOOST_TEST(tier(s, "cold").entries == 1);
    BOOST_TEST(text(cache.get("a")) == value_of("a"));  // from cold; warm {a, c} demotes b
    BOOST_TEST(text(cache.get("c")) == value_of("c"));  // from warm; now warm {c, a}
    s = cache.stats();
    BOOST_TEST(tier(s, "cold").hits == 1);
    BOOST_TEST(tier(s, "warm").hits == 1);
  }
  TieredCache cache(options(dir.path()));
  cache.put("x", value_of("x"));  // warm {x, c, a}: a is the least recent and goes to cold
  BOOST_TEST(text(cache.get("c")) == value_of("c"));
  BOOST_TEST(tier(cache.stats(), "warm").hits == 1);
  BOOST_TEST(text(cache.get("a")) == value_of("a"));
  BOOST_TEST(tier(cache.stats(), "cold").hits == 1);
  BOOST_TEST(text(cache.get("b")) == value_of("b"));
  BOOST_TEST(tier(cache.stats(), "cold").hits == 2);
}

// A reader goes round six entries while the writer moves them between warm and cold (each disk
// hit is promoted, which demotes another; warm and cold together hold them all): no read misses
// and none is lost. A read that found the entry in neither tier, its move having committed
// between the read of one and of the other, dropped it from the index (3 entries lost in every
// run before the read of the first tier again).
BOOST_AUTO_TEST_CASE(entries_moving_between_disk_tiers_are_never_lost_to_a_reader) {
  test::TempDir dir("cache-moves");
  TieredCache cache({dir.path(), "fpA", 1100, 3 * 1030, 8 * 1030});
  const std::vector<std::string> keys{"a", "b", "c", "d", "e", "f"};
  for (const auto& k : keys) cache.put(k, value_of(k));
  cache.flush();
  int misses = 0;
  for (int round = 0; round < 600; ++round) {
    for (const auto& k : keys)
      if (text(cache.get(k)) != value_of(k)) ++misses;
    if (round % 4 == 3) cache.flush();  // the writer keeps up: no move is refused for a full queue
  }
  BOOST_TEST(misses == 0);
  cache.flush();
  for (const auto& k : keys) BOOST_TEST(text(cache.get(k)) == value_of(k), "after the moves: " << k);
}

BOOST_AUTO_TEST_CASE(corrupt_and_truncated_values_are_dropped_and_counted) {
  test::TempDir dir("cache-corrupt");
  { TieredCache(options(dir.path())).put("a", value_of("a")); }
  { TieredCache(options(dir.path())).put("b", value_of("b")); }
  {
    RawDb raw(dir.path());
    std::string a = raw.get("fpA/a");
    a[500] ^= 0x10;
    raw.put("fpA/a", a);
    raw.put("fpA/b", raw.get("fpA/b").substr(0, 700));
  }
  TieredCache cache(options(dir.path()));
  BOOST_TEST(!cache.get("a"));
  BOOST_TEST(!cache.get("b"));
  BOOST_TEST(tier(cache.stats(), "warm").corrupt_dropped == 2);
  BOOST_TEST(tier(cache.stats(), "warm").entries == 0);
  BOOST_TEST(!cache.contains("a"));
  BOOST_TEST(!cache.get("a"));  // dropped once, then a plain miss
  BOOST_TEST(tier(cache.stats(), "warm").corrupt_dropped == 2);
  cache.put("a", value_of("a"));  // recomputed and stored again
  BOOST_TEST(text(cache.get("a")) == value_of("a"));
}

BOOST_AUTO_TEST_CASE(another_model_fingerprint_never_sees_the_entries) {
  test::TempDir dir("cache-foreign");
  { TieredCache(options(dir.path(), "fpA")).put("k", value_of("one")); }
  {
    TieredCache b(options(dir.path(), "fpB"));
    BOOST_TEST(!b.get("k"));
    BOOST_TEST(!b.contains("k"));
    b.put("k", value_of("two"));
    BOOST_TEST(text(b.get("k")) == value_of("two"));
  }
  BOOST_TEST(text(TieredCache(options(dir.path(), "fpA")).get("k")) == value_of("one"));
  // fpA's value copied under fpB's key (as a wrong copy or a bug might): refused as foreign.
  {
    RawDb raw(dir.path());
    raw.put("fpB/k", raw.get("fpA/k"));
  }
  TieredCache b(options(dir.path(), "fpB"));
  BOOST_TEST(!b.get("k"));
  BOOST_TEST(tier(b.stats(), "warm").corrupt_dropped == 1);
}

BOOST_AUTO_TEST_CASE(a_locked_directory_leaves_the_cache_in_memory) {
  test::TempDir dir("cache-locked");
  TieredCache first(options(dir.path()));
  TieredCache second(options(dir.path()));  // the same directory, held by the first
  BOOST_TEST(first.has_disk());
  BOOST_TEST(!second.has_disk());
  BOOST_TEST(second.disk_error().find("lock") != std::string::npos, second.disk_error());
  BOOST_TEST(second.disk_error().find("memory only") != std::string::npos);
  second.put("k", value_of("k"));
  BOOST_TEST(text(second.get("k")) == value_of("k"));
  BOOST_TEST(std::filesystem::exists(dir.path()));  // a held directory is not "damaged": never moved

  std::ofstream(dir.path() / "a-file") << "x";
  TieredCache not_a_dir(options(dir.path() / "a-file"));
  BOOST_TEST(!not_a_dir.has_disk());
}

// A damaged CURRENT or MANIFEST: the directory is moved aside whole and a new database made in
// its place, so the node keeps its disk tiers (before: memory only at every start).
BOOST_AUTO_TEST_CASE(a_damaged_database_is_moved_aside_and_recreated) {
  for (const std::string damage : {"CURRENT", "MANIFEST"}) {
    test::TempDir root("cache-damaged");
    const auto dir = root.path() / "db";
    {
      TieredCache cache(options(dir));
      cache.put("k", value_of("k"));
    }
    BOOST_TEST(TieredCache(options(dir)).recovered() == 1);
    std::filesystem::create_directory(dir / "weights");  // as pio-node's packed weights: not the database's
    std::ofstream(dir / "weights" / "x.pack") << "packed";
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      const std::string name = f.path().filename().string();
      if (damage == "CURRENT" && name == "CURRENT") std::ofstream(f.path(), std::ios::trunc) << "no-such-manifest\n";
      if (damage == "MANIFEST" && name.starts_with("MANIFEST-")) {
        std::fstream m(f.path(), std::ios::in | std::ios::out | std::ios::binary);
        m.seekp(20);
        m << "damaged damaged damaged damaged";
      }
    }
    {
      TieredCache cache(options(dir));
      BOOST_TEST(cache.has_disk(), damage << ": " << cache.disk_error());
      BOOST_TEST(cache.recovered() == 0);
      BOOST_TEST(!cache.get("k"));
      const std::filesystem::path moved = cache.moved_aside();
      BOOST_TEST(moved.filename().string().starts_with("db.damaged-"), damage << ": " << moved);
      BOOST_TEST(std::filesystem::exists(moved / "CURRENT"), damage);  // kept for a post-mortem
      BOOST_TEST(std::filesystem::exists(dir / "weights" / "x.pack"), damage);
      cache.put("k2", value_of("k2"));
    }
    TieredCache again(options(dir));  // the new database works and lasts
    BOOST_TEST(again.recovered() == 1);
    BOOST_TEST(again.moved_aside().empty());
  }
}

BOOST_AUTO_TEST_CASE(hot_shrinks_on_demand_and_the_disk_still_answers) {
  test::TempDir dir("cache-shrink");
  TieredCache cache({dir.path(), "fpA", 100000, 100000, 100000});
  for (const char* k : {"a", "b", "c"}) cache.put(k, value_of(k));
  BOOST_TEST(tier(cache.stats(), "hot").entries == 3);
  cache.set_hot_limit(0);
  BOOST_TEST(cache.hot_limit() == 0);
  BOOST_TEST(cache.configured_hot_limit() == 100000);
  BOOST_TEST(tier(cache.stats(), "hot").entries == 0);
  BOOST_TEST(tier(cache.stats(), "hot").evictions == 3);
  BOOST_TEST(text(cache.get("b")) == value_of("b"));
  BOOST_TEST(tier(cache.stats(), "warm").hits == 1);
}

BOOST_AUTO_TEST_CASE(concurrent_misses_of_one_key_compute_it_once) {
  test::TempDir dir("cache-flight");
  TieredCache cache(options(dir.path()));
  std::atomic<int> computed{0};
  std::vector<std::thread> threads;
  std::vector<std::string> got(8);
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] {
      got[i] = *cache.get_or_compute("img", [&] {
        ++computed;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return value_of("img");
      });
    });
  for (auto& t : threads) t.join();
  BOOST_TEST(computed.load() == 1);
  for (const auto& g : got) BOOST_TEST(g == value_of("img"));
  // A failed computation reaches its caller, stores nothing, and the next caller tries again.
  BOOST_CHECK_THROW(cache.get_or_compute("bad", []() -> std::string { throw std::runtime_error("no"); }),
                    std::runtime_error);
  BOOST_TEST(!cache.contains("bad"));
  BOOST_TEST(text(cache.get_or_compute("bad", [] { return value_of("bad"); })) == value_of("bad"));
}

BOOST_AUTO_TEST_CASE(concurrent_readers_and_writers_see_whole_values) {
  test::TempDir dir("cache-threads");
  TieredCache cache({dir.path(), "fpA", 4000, 6000, 8000});  // small: evictions on every side
  std::atomic<int> wrong{0}, hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        const std::string k = "k" + std::to_string((i * 7 + t) % 12);
        if (i % 4 == 0) {
          cache.put(k, value_of(k, 500));
        } else if (const auto v = cache.get(k)) {
          ++hits;
          if (*v != value_of(k, 500)) ++wrong;
        }
      }
    });
  for (auto& t : threads) t.join();
  BOOST_TEST(wrong.load() == 0);
  BOOST_TEST(hits.load() > 0);
  for (const auto& t : cache.stats()) BOOST_TEST(t.bytes <= t.limit_bytes);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pio
