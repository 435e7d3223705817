#include "serving/grammar_matcher.h"

#include <algorithm>
#include <numeric>

#include "model/tokenizer/tokenizer.h"

namespace pio {
namespace {

using Kind = GrammarElement::Kind;

// Pushdown stacks as linked nodes in one arena (stacks share their tails), so that advancing by
// a byte copies nothing below the top. A stack is the index of its top node; -1 is the empty
// stack. Every stack a Walker hands out has a byte set on top (rules are expanded).
class Walker {
 public:
  explicit Walker(const Grammar& g) : g_(g) {}

  size_t mark() const { return nodes_.size(); }
  void reset(size_t mark) { nodes_.resize(mark); }

  // The expanded stacks of a canonical state.
  void load(const std::vector<std::vector<uint32_t>>& stacks, std::vector<int32_t>& tops) {
    tops.clear();
    for (const auto& s : stacks) {
      int32_t top = -1;
      for (uint32_t pos : s) top = push(pos, top);
      tops.push_back(top);
    }
  }

  // The canonical state of `tops`: each stack bottom first, sorted, no duplicates.
  std::vector<std::vector<uint32_t>> save(const std::vector<int32_t>& tops) const {
    std::vector<std::vector<uint32_t>> out;
    for (int32_t t : tops) {
      std::vector<uint32_t> s;
      for (; t >= 0; t = nodes_[static_cast<size_t>(t)].parent) s.push_back(nodes_[static_cast<size_t>(t)].pos);
      std::reverse(s.begin(), s.end());
      out.push_back(std::move(s));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  // The stacks after `tops` consume byte b.
  void advance(const std::vector<int32_t>& tops, uint8_t b, std::vector<int32_t>& out) {
    out.clear();
    expanded_.clear();
    for (int32_t t : tops) {
      if (t < 0) continue;
      const Node n = nodes_[static_cast<size_t>(t)];
      if (!g_.sets[g_.elements[n.pos].value].has(b)) continue;
      expand(g_.elements[n.pos + 1].kind == Kind::end ? n.parent : push(n.pos + 1, n.parent), out);
    }
    dedupe(out);
  }

  // The bytes any of `tops` accepts next.
  ByteSet next_bytes(const std::vector<int32_t>& tops) const {
    ByteSet s;
    for (int32_t t : tops)
      if (t >= 0) s.merge(g_.sets[g_.elements[nodes_[static_cast<size_t>(t)].pos].value]);
    return s;
  }

  // Replaces a stack whose top is a rule by one stack per alternative, recursively; a stack
  // expanded already since the last advance (equal alternatives reach it twice) is skipped, so
  // ambiguous grammars cost linear, not exponential, time.
  void expand(int32_t top, std::vector<int32_t>& out) {
    if (top < 0) {
      out.push_back(-1);
      return;
    }
    const Node n = nodes_[static_cast<size_t>(top)];
    const GrammarElement& el = g_.elements[n.pos];
    if (el.kind == Kind::bytes) {
      out.push_back(top);
      return;
    }
    const std::pair<uint32_t, int32_t> key{n.pos, n.parent};
    if (std::find(expanded_.begin(), expanded_.end(), key) != expanded_.end()) return;
    expanded_.push_back(key);
    const int32_t rest = g_.elements[n.pos + 1].kind == Kind::end ? n.parent : push(n.pos + 1, n.parent);
    for (uint32_t alt : g_.rules[el.value])
      expand(g_.elements[alt].kind == Kind::end ? rest : push(alt, rest), out);
  }

 private:
  struct Node {
    uint32_t pos;
    int32_t parent;
  };

  int32_t push(uint32_t pos, int32_t parent) {
    nodes_.push_back({pos, parent});
    return static_cast<int32_t>(nodes_.size() - 1);
  }

  // Drops stacks equal at the top two levels (enough for the duplicates expansion makes).
  void dedupe(std::vector<int32_t>& tops) const {
    const auto key = [&](int32_t t) {
      return t < 0 ? std::pair<int64_t, int64_t>{-1, -1}
                   : std::pair<int64_t, int64_t>{nodes_[static_cast<size_t>(t)].pos, nodes_[static_cast<size_t>(t)].parent};
    };
    std::sort(tops.begin(), tops.end(), [&](int32_t a, int32_t b) { return key(a) < key(b); });
    tops.erase(std::unique(tops.begin(), tops.end(), [&](int32_t a, int32_t b) { return key(a) == key(b); }),
               tops.end());
  }

  const Grammar& g_;
  std::vector<Node> nodes_;
  std::vector<std::pair<uint32_t, int32_t>> expanded_;  // rule stacks expanded since the last advance
};

}  // namespace

namespace {

// The node for the ids sorted[lo, hi), which share their first `depth` bytes; returns its index.
uint32_t build_trie(TokenTrie& t, const std::vector<std::string>& bytes, const std::vector<int32_t>& sorted,
                    size_t lo, size_t hi, size_t depth) {
  const auto at = [&](size_t i) -> const std::string& { return bytes[static_cast<size_t>(sorted[i])]; };
  const auto index = static_cast<uint32_t>(t.nodes.size());
  t.nodes.emplace_back();
  t.nodes[index].token_begin = static_cast<uint32_t>(t.tokens.size());
  while (lo < hi && at(lo).size() == depth) t.tokens.push_back(sorted[lo++]);
  t.nodes[index].token_end = static_cast<uint32_t>(t.tokens.size());
  std::vector<std::pair<size_t, size_t>> runs;  // the children: runs of equal byte at `depth`
  for (size_t i = lo; i < hi;) {
    size_t j = i;
    while (j < hi && at(j)[depth] == at(i)[depth]) ++j;
    runs.emplace_back(i, j);
    i = j;
  }
  const auto first = static_cast<uint32_t>(t.edge_bytes.size());
  t.nodes[index].child_begin = first;
  t.nodes[index].child_end = first + static_cast<uint32_t>(runs.size());
  t.edge_bytes.resize(first + runs.size());
  t.edge_nodes.resize(first + runs.size());
  for (size_t r = 0; r < runs.size(); ++r) {
    t.edge_bytes[first + r] = static_cast<uint8_t>(at(runs[r].first)[depth]);
    const uint32_t child = build_trie(t, bytes, sorted, runs[r].first, runs[r].second, depth + 1);
    t.edge_nodes[first + r] = child;
  }
  return index;
}

TokenTrie make_trie(const std::vector<std::string>& bytes, std::vector<int32_t> ids) {
  TokenTrie t;
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return bytes[a] < bytes[b]; });
  for (int32_t id : ids) t.max_length = std::max(t.max_length, bytes[static_cast<size_t>(id)].size());
  build_trie(t, bytes, ids, 0, ids.size(), 0);
  return t;
}

// JSON string text: printable ASCII but `"` and `\`, and whole well-formed UTF-8 characters.
bool plain_text(std::string_view s) {
  const auto u = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const auto cont = [&](size_t i, uint8_t lo = 0x80, uint8_t hi = 0xbf) { return i < s.size() && u(i) >= lo && u(i) <= hi; };
  for (size_t i = 0; i < s.size();) {
    const uint8_t c = u(i);
    if (c >= 0x20 && c <= 0x7f) {
      if (c == '"' || c == '\\') return false;
      i += 1;
    } else if (c >= 0xc2 && c <= 0xdf && cont(i + 1)) {
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef && cont(i + 1, c == 0xe0 ? 0xa0 : 0x80, c == 0xed ? 0x9f : 0xbf) && cont(i + 2)) {
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4 && cont(i + 1, c == 0xf0 ? 0x90 : 0x80, c == 0xf4 ? 0x8f : 0xbf) && cont(i + 2) &&
               cont(i + 3)) {
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

TokenVocabulary::TokenVocabulary(std::vector<std::string> bytes) : bytes_(std::move(bytes)) {
  std::vector<int32_t> all, not_plain;
  plain_.assign((bytes_.size() + 63) / 64, 0);
  for (int32_t id = 0; id < size(); ++id) {
    const std::string& b = bytes_[static_cast<size_t>(id)];
    if (b.empty()) continue;
    all.push_back(id);
    if (plain_text(b)) plain_[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (id & 63);
    else not_plain.push_back(id);
  }
  all_ = make_trie(bytes_, std::move(all));
  not_plain_ = make_trie(bytes_, std::move(not_plain));
}

std::shared_ptr<const TokenVocabulary> TokenVocabulary::from_tokenizer(const Tokenizer& tokenizer, int32_t limit) {
  const int32_t n = std::min(limit, tokenizer.vocab_size());
  std::vector<std::string> bytes(static_cast<size_t>(n));
  for (int32_t id = 0; id < n; ++id)
    if (!tokenizer.is_special(id)) bytes[static_cast<size_t>(id)] = std::string(tokenizer.token_bytes(id, false));
  return std::make_shared<const TokenVocabulary>(std::move(bytes));
}

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {
  // The root rule's alternatives, as the stacks of a start element holding the root.
  Walker w(*grammar_);
  std::vector<int32_t> tops;
  for (uint32_t alt : grammar_->rules[grammar_->root]) {
    std::vector<int32_t> one = {-1};
    if (grammar_->elements[alt].kind != Kind::end) w.load({{alt}}, one);
    w.expand(one[0], tops);
  }
  stacks_ = w.save(tops);
}

bool GrammarMatcher::accepting() const {
  return std::any_of(stacks_.begin(), stacks_.end(), [](const auto& s) { return s.empty(); });
}

bool GrammarMatcher::advance(std::string_view bytes) {
  Walker w(*grammar_);
  std::vector<int32_t> tops, next;
  w.load(stacks_, tops);
  for (char c : bytes) {
    w.advance(tops, static_cast<uint8_t>(c), next);
    if (next.empty()) return false;
    tops.swap(next);
  }
  stacks_ = w.save(tops);
  return true;
}

GrammarMasks::GrammarMasks(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocabulary,
                           size_t max_cached)
    : grammar_(std::move(grammar)), vocabulary_(std::move(vocabulary)), max_cached_(max_cached) {}

const TokenMask& GrammarMasks::mask(const GrammarMatcher& matcher) {
  std::string key;  // each stack as its length then its element indices
  for (const auto& s : matcher.stacks()) {
    const auto n = static_cast<uint32_t>(s.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof n);
    key.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(uint32_t));
  }
  if (const auto it = cache_.find(key); it != cache_.end()) {
    ++cached_;
    return it->second;
  }
  if (cache_.size() >= max_cached_) cache_.clear();
  ++computed_;
  return cache_.emplace(std::move(key), compute(matcher)).first->second;
}

bool GrammarMasks::inside_text(const GrammarMatcher& matcher) {
  // One character of each class the string grammar tells apart: every ASCII text byte, and a
  // character for each lead-byte range of well-formed UTF-8.
  static const std::vector<std::string> samples = [] {
    std::vector<std::string> out;
    for (int c = 0x20; c <= 0x7f; ++c)
      if (c != '"' && c != '\\') out.emplace_back(1, static_cast<char>(c));
    for (const char* u : {"\xc3\xa9", "\xe0\xa4\x85", "\xe2\x82\xac", "\xed\x95\x9c", "\xf0\x9f\x98\x80", "\xf3\xa0\x80\x81",
                          "\xf4\x8f\xbf\xbf"})
      out.emplace_back(u);
    return out;
  }();
  for (const std::string& c : samples) {
    GrammarMatcher copy = matcher;
    if (!copy.advance(c) || copy.stacks() != matcher.stacks()) return false;
  }
  return true;
}

TokenMask GrammarMasks::compute(const GrammarMatcher& matcher) {
  const TokenVocabulary& v = *vocabulary_;
  TokenMask mask;
  mask.accepting = matcher.accepting();
  // Inside a string every plain token keeps the state: only the others need the walk.
  const bool text = inside_text(matcher);
  if (text) mask.bits = v.plain();
  else mask.bits.assign(v.plain().size(), 0);
  const TokenTrie& trie = text ? v.not_plain() : v.all();
  Walker w(*grammar_);
  std::vector<std::vector<int32_t>> level(trie.max_length + 1);
  w.load(matcher.stacks(), level[0]);
  const auto& nodes = trie.nodes;
  // Depth-first over the trie: level[d] holds the stacks after the node's d bytes.
  const auto walk = [&](const auto& self, uint32_t node, size_t depth) -> void {
    const ByteSet next = w.next_bytes(level[depth]);
    const TokenTrie::Node& n = nodes[node];
    for (uint32_t e = n.child_begin; e < n.child_end; ++e) {
      const uint8_t b = trie.edge_bytes[e];
      if (!next.has(b)) continue;
      const size_t mark = w.mark();
      w.advance(level[depth], b, level[depth + 1]);
      if (!level[depth + 1].empty()) {
        const TokenTrie::Node& child = nodes[trie.edge_nodes[e]];
        for (uint32_t t = child.token_begin; t < child.token_end; ++t) {
          const int32_t id = trie.tokens[t];
          mask.bits[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (id & 63);
        }
        if (child.child_begin < child.child_end) self(self, trie.edge_nodes[e], depth + 1);
      }
      w.reset(mark);
    }
  };
  walk(walk, 0, 0);
  return mask;
}

}  // namespace pio
