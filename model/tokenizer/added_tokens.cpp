#include "model/tokenizer/added_tokens.h"

#include <algorithm>

#include "model/errors.h"
#include "model/limits.h"

namespace pio {

void AddedTokens::add(AddedToken token) {
  if (token.content.empty()) throw ModelError("tokenizer: an added token has empty content");
  // A negative id would read as ordinary text in TextPiece; 2^24 bounds vocab_size() as a config does.
  if (token.id < 0 || token.id >= limits::kMaxVocab)
    throw ModelError("tokenizer: added token '" + token.content + "' has id " + std::to_string(token.id) +
                     ", outside [0, " + std::to_string(limits::kMaxVocab) + ")");
  const std::size_t index = tokens_.size();
  if (!by_content_.emplace(token.content, index).second) return;  // listed twice: keep first
  by_id_.emplace(token.id, index);
  auto& bucket = by_first_byte_[static_cast<unsigned char>(token.content[0])];
  bucket.push_back(index);
  tokens_.push_back(std::move(token));
  std::stable_sort(bucket.begin(), bucket.end(), [&](std::size_t a, std::size_t b) {
    return tokens_[a].content.size() > tokens_[b].content.size();
  });
}

std::optional<std::int32_t> AddedTokens::find(std::string_view content) const {
  const auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return tokens_[it->second].id;
}

const AddedToken* AddedTokens::by_id(std::int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::vector<TextPiece> AddedTokens::split(std::string_view text) const {
  std::vector<TextPiece> pieces;
  std::size_t start = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const AddedToken* match = nullptr;
    for (std::size_t index : by_first_byte_[static_cast<unsigned char>(text[i])]) {
      if (text.substr(i).starts_with(tokens_[index].content)) {
        match = &tokens_[index];
        break;
      }
    }
    if (match == nullptr) {
      ++i;
      continue;
    }
    if (i > start) pieces.push_back({text.substr(start, i - start)});
    pieces.push_back({text.substr(i, match->content.size()), match->id});
    i += match->content.size();
    start = i;
  }
  if (start < text.size()) pieces.push_back({text.substr(start)});
  return pieces;
}

}  // namespace pio
