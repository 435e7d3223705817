#include "apps/pio/cli_util.h"

#include <charconv>
#include <stdexcept>

namespace pio::cli {

std::vector<int32_t> parse_ids(const std::string& text, const std::string& source, bool allow_empty) {
  // `pio tokenize` prints a JSON array: "[9707,11]" (spaces allowed) is taken as "9707,11".
  std::string list;
  for (const char c : text)
    if (c != ' ') list += c;
  if (list.size() >= 2 && list.front() == '[' && list.back() == ']') list = list.substr(1, list.size() - 2);
  std::vector<int32_t> ids;
  if (allow_empty && list.empty() && text.find('[') != std::string::npos) return ids;  // "[]"
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = std::min(list.find(',', start), list.size());
    const std::string piece = list.substr(start, end - start);
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
