#include "tests/tokenizer/qwen_fixture.h"

#include <fstream>
#include <stdexcept>

namespace pio::test {

namespace {

std::string golden_path(const std::string& name) {
  return std::string(PIO_TEST_DATA_DIR) + "/tokenizer/" + name;
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

}  // namespace

const Tokenizer& qwen_tokenizer() {
  static const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(PIO_QWEN_TOKENIZER_DIR);
  return *tokenizer;
}

nlohmann::json read_golden(const std::string& name) {
  std::ifstream in(golden_path(name));
  if (!in) throw std::runtime_error("missing golden file " + golden_path(name));
  return nlohmann::json::parse(in);
}

std::vector<nlohmann::json> read_golden_lines(const std::string& name) {
  std::ifstream in(golden_path(name));
  if (!in) throw std::runtime_error("missing golden file " + golden_path(name));
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

const std::vector<EncodeGolden>& encode_goldens() {
  static const std::vector<EncodeGolden> goldens = [] {
    std::vector<EncodeGolden> out;
    for (const auto& j : read_golden_lines("encode_goldens.jsonl")) {
      EncodeGolden g;
      g.valid_utf8 = j.contains("text");
      g.input = g.valid_utf8 ? j["text"].get<std::string>() : from_hex(j["hex"].get<std::string>());
      if (g.valid_utf8) g.nfc = j["nfc"].get<std::string>();
      g.ids = j["ids"].get<std::vector<std::int32_t>>();
      g.decoded = j["decoded"].get<std::string>();
      out.push_back(std::move(g));
    }
    return out;
  }();
  return goldens;
}

}  // namespace pio::test
