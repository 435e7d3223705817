#include "apps/pio/cli_util.h"

#include <charconv>
#include <stdexcept>

namespace pio::cli {

std::vector<int32_t> parse_ids(const std::string& text, const std::string& source) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string piece = text.substr(start, end - start);
    int32_t v = 0;
    const auto [ptr, ec] = std::from_chars(piece.data(), piece.data() + piece.size(), v);
    if (piece.empty() || ec != std::errc() || ptr != piece.data() + piece.size())
      throw std::invalid_argument("not a token id: '" + piece + "' in " + source + " '" + text + "'");
    ids.push_back(v);
    start = end + 1;
  }
  return ids;
}

std::string ids_to_json(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s + "]";
}

}  // namespace pio::cli
