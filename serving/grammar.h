// A context-free grammar over bytes, the form structured outputs constrain decoding with: rules
// are lists of alternatives, an alternative a sequence of elements, each a byte set (matches one
// byte) or a reference to a rule. Grammars built here are never left-recursive (a rule refers to
// rules built before it, or to itself last, as an unbounded repeat), which the matcher
// (grammar_matcher.h) relies on.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace pio {

// 256 bits: which bytes an element accepts.
struct ByteSet {
  std::array<uint64_t, 4> bits{};
  bool has(uint8_t b) const { return (bits[b >> 6] >> (b & 63)) & 1; }
  void add(uint8_t b) { bits[b >> 6] |= uint64_t{1} << (b & 63); }
  void add_range(uint8_t lo, uint8_t hi) {
    for (int b = lo; b <= hi; ++b) add(static_cast<uint8_t>(b));
  }
  void merge(const ByteSet& o) {
    for (size_t i = 0; i < bits.size(); ++i) bits[i] |= o.bits[i];
  }
};

struct GrammarElement {
  enum class Kind : uint8_t { bytes, rule, end };  // end closes an alternative
  Kind kind = Kind::end;
  uint32_t value = 0;                              // a ByteSet index, or a rule index
};

struct Grammar {
  std::vector<ByteSet> sets;
  std::vector<GrammarElement> elements;     // every alternative, each closed by an end element
  std::vector<std::vector<uint32_t>> rules;  // rule -> the element index each alternative starts at
  uint32_t root = 0;
};

// Builds a Grammar bottom-up: a rule refers to rules built before it (and repeat() to itself, at
// the end of an alternative), so no grammar it makes is left-recursive. Symbols are byte sets or
// rule references.
class GrammarBuilder {
 public:
  struct Symbol {
    bool is_rule = false;
    uint32_t value = 0;
  };
  using Sequence = std::vector<Symbol>;

  Symbol bytes(const ByteSet& set);
  Symbol byte(uint8_t b);
  Symbol range(uint8_t lo, uint8_t hi);
  // The bytes of `text`, one symbol each.
  Sequence literal(std::string_view text);
  // A new rule with these alternatives (an empty sequence is the empty string); its symbol.
  Symbol rule(const std::vector<Sequence>& alternatives);
  // `s` repeated min..max times (max < 0: unbounded, as a right-recursive rule).
  Symbol repeat(Symbol s, int min, int max);
  // Number of elements so far (the caller's size bound).
  size_t size() const { return grammar_.elements.size(); }
  // The grammar, starting at `root` (a rule symbol).
  Grammar finish(Symbol root);

 private:
  Grammar grammar_;
};

}  // namespace pio
