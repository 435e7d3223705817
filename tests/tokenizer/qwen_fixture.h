// The Qwen3 tokenizer (loaded once for the whole suite) and the committed goldens.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/tokenizer/tokenizer.h"

namespace pio::test {

const Tokenizer& qwen_tokenizer();

// tests/data/tokenizer/<name> parsed as one JSON document, or as JSON lines.
nlohmann::json read_golden(const std::string& name);
std::vector<nlohmann::json> read_golden_lines(const std::string& name);

struct EncodeGolden {
  std::string input;  // raw bytes (may be ill-formed UTF-8)
  bool valid_utf8;
  std::string nfc;    // valid input only
  std::vector<std::int32_t> ids;
  std::string decoded;
};
const std::vector<EncodeGolden>& encode_goldens();

}  // namespace pio::test
