// The token ids of a one-turn chat: optional system prompt, then a user turn with its images
// first and the text after, then the assistant's generation prompt.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/tokenizer/tokenizer.h"

namespace pio::cli {

std::vector<int32_t> single_turn_chat_ids(const Tokenizer& tokenizer, const std::string& system,
                                          const std::string& prompt, size_t images);

}  // namespace pio::cli
