// Grammar-constrained decoding: a sequence's parse state in a Grammar (grammar.h), advanced with
// each sampled token's bytes, and the mask of the tokens that may come next, found by walking a
// prefix trie of the vocabulary's bytes with the state (a token is allowed when all its bytes
// are). The state is a set of pushdown stacks (every way the bytes so far can continue), kept
// in canonical form, so equal states give equal keys and the masks are cached per state.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "serving/grammar.h"

namespace pio {

class Tokenizer;

// A prefix trie of some token ids' bytes.
struct TokenTrie {
  struct Node {
    uint32_t child_begin = 0, child_end = 0;  // into edge_bytes / edge_nodes
    uint32_t token_begin = 0, token_end = 0;  // into tokens: the ids spelled by this prefix
  };
  std::vector<Node> nodes;  // nodes[0] is the root (no bytes)
  std::vector<uint8_t> edge_bytes;
  std::vector<uint32_t> edge_nodes;
  std::vector<int32_t> tokens;
  size_t max_length = 0;
};

// The bytes of every token id, as prefix tries. Ids with no bytes (special tokens, padding) are
// never allowed by a mask. "Plain" tokens are JSON string text: printable ASCII but `"` and `\`,
// and whole well-formed UTF-8 characters; inside a string they are all allowed, so a mask
// there walks only the trie of the others.
class TokenVocabulary {
 public:
  // bytes[id]: the token's bytes; empty: never allowed.
  explicit TokenVocabulary(std::vector<std::string> bytes);
  // Ids below `limit` of the tokenizer, its special tokens left out.
  static std::shared_ptr<const TokenVocabulary> from_tokenizer(const Tokenizer& tokenizer, int32_t limit);

  int32_t size() const { return static_cast<int32_t>(bytes_.size()); }
  std::string_view bytes(int32_t id) const { return bytes_[static_cast<size_t>(id)]; }
  const TokenTrie& all() const { return all_; }
  const TokenTrie& not_plain() const { return not_plain_; }
  // A bit per id: the plain ones.
  const std::vector<uint64_t>& plain() const { return plain_; }

 private:
  std::vector<std::string> bytes_;
  TokenTrie all_, not_plain_;
  std::vector<uint64_t> plain_;
};

// Which ids may come next: a bit per id of the vocabulary; `accepting`: the bytes so far are a
// complete sentence (the caller allows its stop ids then).
struct TokenMask {
  std::vector<uint64_t> bits;
  bool accepting = false;
  bool allows(int32_t id) const { return (bits[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1; }
};

// One sequence's place in a grammar.
class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const Grammar> grammar);

  // Consumes `bytes`; false (and the state unchanged) when they leave the grammar.
  bool advance(std::string_view bytes);
  // The bytes so far form a complete sentence.
  bool accepting() const;
  // Accepting, and no byte may follow.
  bool finished() const { return stacks_.size() == 1 && stacks_[0].empty(); }
  // The canonical state: sorted stacks of element indices (bottom first); an empty stack accepts.
  const std::vector<std::vector<uint32_t>>& stacks() const { return stacks_; }
  const Grammar& grammar() const { return *grammar_; }

 private:
  std::shared_ptr<const Grammar> grammar_;
  std::vector<std::vector<uint32_t>> stacks_;
};

// A grammar over one vocabulary: the token masks of its states, cached (up to `max_cached`
// masks; the cache is emptied when full). Not thread-safe.
class GrammarMasks {
 public:
  GrammarMasks(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocabulary,
               size_t max_cached = 64);

  // A matcher at the grammar's start.
  GrammarMatcher start() const { return GrammarMatcher(grammar_); }
  // The mask of the tokens that may follow the matcher's bytes (valid until the next call).
  const TokenMask& mask(const GrammarMatcher& matcher);
  const TokenVocabulary& vocabulary() const { return *vocabulary_; }
  // Masks computed (cache misses) and served from the cache, for tests and measurements.
  int64_t computed() const { return computed_; }
  int64_t cached() const { return cached_; }

 private:
  TokenMask compute(const GrammarMatcher& matcher);
  // Whether every plain token leaves the matcher's state as it is (inside a string).
  static bool inside_text(const GrammarMatcher& matcher);

  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const TokenVocabulary> vocabulary_;
  size_t max_cached_;
  std::unordered_map<std::string, TokenMask> cache_;
  int64_t computed_ = 0, cached_ = 0;
};

}  // namespace pio
