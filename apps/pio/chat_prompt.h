// The prompt of `pio chat`: a one-turn chat from --system, --image and --prompt, or a whole
// conversation from a --messages file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/tokenizer/chat_messages.h"
#include "model/tokenizer/tokenizer.h"

namespace pio::cli {

// The token ids of a one-turn chat: the system turn when `system` is given (an empty one too,
// as the template renders it), then a user turn with its images first and the text after,
// then the assistant's generation prompt.
std::vector<int32_t> single_turn_chat_ids(const Tokenizer& tokenizer, const std::optional<std::string>& system,
                                          const std::string& prompt, size_t images);

// Reads a --messages file: a JSON `messages` array as parse_chat_messages takes it (image
// paths as written, relative to the working directory like --image). Throws ModelError, its
// message starting with the path, for a file that is unreadable, larger than 16 MiB, not JSON,
// nested deeper than 32 levels, or not such an array.
ParsedChat read_chat_messages_file(const std::string& path);

}  // namespace pio::cli
