#include "serving/grammar.h"

#include <stdexcept>

namespace pio {

GrammarBuilder::Symbol GrammarBuilder::bytes(const ByteSet& set) {
  for (size_t i = 0; i < grammar_.sets.size(); ++i)
    if (grammar_.sets[i].bits == set.bits) return {false, static_cast<uint32_t>(i)};
  grammar_.sets.push_back(set);
  return {false, static_cast<uint32_t>(grammar_.sets.size() - 1)};
}

GrammarBuilder::Symbol GrammarBuilder::byte(uint8_t b) {
  ByteSet s;
  s.add(b);
  return bytes(s);
}

GrammarBuilder::Symbol GrammarBuilder::range(uint8_t lo, uint8_t hi) {
  ByteSet s;
  s.add_range(lo, hi);
  return bytes(s);
}

GrammarBuilder::Sequence GrammarBuilder::literal(std::string_view text) {
  Sequence out;
  for (char c : text) out.push_back(byte(static_cast<uint8_t>(c)));
  return out;
}

GrammarBuilder::Symbol GrammarBuilder::rule(const std::vector<Sequence>& alternatives) {
  std::vector<uint32_t> starts;
  for (const auto& alt : alternatives) {
    starts.push_back(static_cast<uint32_t>(grammar_.elements.size()));
    for (const Symbol& s : alt)
      grammar_.elements.push_back({s.is_rule ? GrammarElement::Kind::rule : GrammarElement::Kind::bytes, s.value});
    grammar_.elements.push_back({GrammarElement::Kind::end, 0});
  }
  grammar_.rules.push_back(std::move(starts));
  return {true, static_cast<uint32_t>(grammar_.rules.size() - 1)};
}

GrammarBuilder::Symbol GrammarBuilder::repeat(Symbol s, int min, int max) {
  if (min < 0 || (max >= 0 && max < min)) throw std::invalid_argument("grammar: a repeat's bounds are reversed");
  Symbol tail;
  if (max < 0) {  // tail: s tail | empty
    const auto self = static_cast<uint32_t>(grammar_.rules.size());
    tail = rule({{s, Symbol{true, self}}, {}});
  } else {  // tail_k: s tail_{k-1} | empty, k = max - min
    tail = rule({{}});
    for (int k = 0; k < max - min; ++k) tail = rule({{s, tail}, {}});
  }
  Sequence seq(static_cast<size_t>(min), s);
  seq.push_back(tail);
  return rule({seq});
}

Grammar GrammarBuilder::finish(Symbol root) {
  if (!root.is_rule) root = rule({{root}});
  grammar_.root = root.value;
  return std::move(grammar_);
}

}  // namespace pio
