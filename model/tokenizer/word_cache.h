// A bounded, thread-safe cache from a pre-tokenized word to its BPE ids. Sharded by hash so
// the threads of a batch encode rarely wait on each other.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pio {

class WordCache {
 public:
  // Looks `word` up; on a hit appends its ids to `out` and returns true.
  bool lookup(std::string_view word, std::vector<std::int32_t>& out) const {
    Shard& shard = shard_of(word);
    std::lock_guard lock(shard.mutex);
    const auto it = shard.map.find(word);
    if (it == shard.map.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }

  void store(std::string_view word, const std::int32_t* ids, std::size_t n) const {
    if (word.size() > kMaxWordBytes) return;  // long words rarely repeat
    Shard& shard = shard_of(word);
    std::lock_guard lock(shard.mutex);
    if (shard.map.size() >= kShardCapacity) shard.map.clear();  // crude but bounded
    shard.map.emplace(std::string(word), std::vector<std::int32_t>(ids, ids + n));
  }

 private:
  static constexpr std::size_t kShards = 64;
  static constexpr std::size_t kShardCapacity = 4096;
  static constexpr std::size_t kMaxWordBytes = 256;

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<std::int32_t>, Hash, std::equal_to<>> map;
  };

  Shard& shard_of(std::string_view word) const {
    return shards_[Hash{}(word) % kShards];
  }

  mutable std::array<Shard, kShards> shards_;
};

}  // namespace pio
