#include "model/tokenizer/bpe_model.h"

#include <queue>

#include "model/errors.h"
#include "model/limits.h"

namespace pio {
namespace {

constexpr std::int64_t kMaxId = limits::kMaxVocab;  // ids are below the largest vocab_size a config may give

}  // namespace

BpeModel::BpeModel(const std::unordered_map<std::string, std::int32_t>& vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges) {
  const ByteLevelMap bytes;
  std::int64_t max_id = -1;
  for (const auto& [token, id] : vocab) {
    if (id < 0 || id >= kMaxId)
      throw ModelError("tokenizer: vocabulary id " + std::to_string(id) + " of '" + token + "' is outside [0, " +
                       std::to_string(kMaxId) + ")");
    max_id = std::max<std::int64_t>(max_id, id);
  }
  // Ids index a dense table: a few ids far beyond the vocabulary's size would make it mostly
  // empty (and, at 2^24 slots, half a gigabyte), so the table may hold at most twice the entries.
  if (max_id + 1 > 2 * static_cast<std::int64_t>(vocab.size()))
    throw ModelError("tokenizer: vocabulary id " + std::to_string(max_id) + " is too sparse for " +
                     std::to_string(vocab.size()) + " entries (ids must stay below twice the entry count)");
  bytes_of_id_.resize(static_cast<std::size_t>(max_id + 1));
  for (const auto& [token, id] : vocab) {
    auto raw = bytes.bytes_of(token);
    if (!raw) throw ModelError("tokenizer: vocabulary entry '" + token + "' is not byte-level");
    bytes_of_id_[static_cast<std::size_t>(id)] = std::move(*raw);
  }
  for (int b = 0; b < 256; ++b) {
    const auto it = vocab.find(bytes.char_of(static_cast<unsigned char>(b)));
    if (it == vocab.end()) throw ModelError("tokenizer: vocabulary lacks byte " + std::to_string(b));
    byte_ids_[static_cast<std::size_t>(b)] = it->second;
  }
  merges_.reserve(merges.size());
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const auto l = vocab.find(left);
    const auto r = vocab.find(right);
    const auto m = vocab.find(left + right);
    if (l == vocab.end() || r == vocab.end() || m == vocab.end()) {
      throw ModelError("tokenizer: merge '" + left + " " + right + "' uses unknown tokens");
    }
    // The first listing of a pair wins, as its rank is the lowest.
    merges_.emplace(pair_key(l->second, r->second),
                    Merge{static_cast<std::int32_t>(rank), m->second});
  }
}

const std::string& BpeModel::token_bytes(std::int32_t id) const {
  static const std::string kNone;
  if (id < 0 || id >= id_limit()) return kNone;
  return bytes_of_id_[static_cast<std::size_t>(id)];
}

void BpeModel::encode_word(std::string_view word, std::vector<std::int32_t>& out) const {
  if (word.size() == 1) {
    out.push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (cache_.lookup(word, out)) return;
  const std::size_t first = out.size();
  merge_word(word, out);
  cache_.store(word, out.data() + first, out.size() - first);
}

// Symbols form a linked list over the word's bytes; candidate merges wait in a heap ordered
// by (rank, position), the order the reference applies them in. A popped candidate is stale
// when either side has changed since it was pushed; it is then skipped.
void BpeModel::merge_word(std::string_view word, std::vector<std::int32_t>& out) const {
  const int n = static_cast<int>(word.size());
  std::vector<std::int32_t> id(static_cast<std::size_t>(n));
  std::vector<int> prev(static_cast<std::size_t>(n));
  std::vector<int> next(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    id[i] = byte_ids_[static_cast<unsigned char>(word[i])];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    std::int32_t rank;
    int pos;
    std::int32_t left;
    std::int32_t right;
    std::int32_t result;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  const auto push = [&](int pos) {
    if (pos < 0 || next[pos] < 0) return;
    const auto it = merges_.find(pair_key(id[pos], id[next[pos]]));
    if (it != merges_.end()) heap.push({it->second.rank, pos, id[pos], id[next[pos]], it->second.result});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);

  std::vector<bool> dead(static_cast<std::size_t>(n), false);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const int right = next[c.pos];
    if (dead[c.pos] || right < 0 || id[c.pos] != c.left || id[right] != c.right) continue;
    id[c.pos] = c.result;
    dead[right] = true;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  for (int i = 0; i >= 0; i = next[i]) out.push_back(id[i]);
}

}  // namespace pio
