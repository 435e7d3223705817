// Helpers shared by the pio subcommands.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/kv_cache.h"

namespace pio::cli {

// "1,2,3" or tokenize's "[1, 2, 3]" -> {1, 2, 3}; "[]" -> none where allow_empty (detokenize;
// a prompt needs ids). Throws std::invalid_argument naming the offending piece and where the
// text came from (source: the option or argument).
std::vector<int32_t> parse_ids(const std::string& text, const std::string& source = "--ids", bool allow_empty = false);
std::string ids_to_json(const std::vector<int32_t>& ids);

// Default KV cache budget for command-line runs.
constexpr int64_t kDefaultKvBudgetMb = 1024;

}  // namespace pio::cli
