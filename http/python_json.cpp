#include "http/python_json.h"

namespace pio::http {

std::string python_json(const nlohmann::ordered_json& value) {
  std::string out;
  if (value.is_object()) {
    out += '{';
    bool first = true;
    for (const auto& [key, item] : value.items()) {
      if (!first) out += ", ";
      first = false;
      out += nlohmann::ordered_json(key).dump();
      out += ": ";
      out += python_json(item);
    }
    return out + '}';
  }
  if (value.is_array()) {
    out += '[';
    for (size_t i = 0; i < value.size(); ++i) {
      if (i) out += ", ";
      out += python_json(value[i]);
    }
    return out + ']';
  }
  return value.dump();
}

}  // namespace pio::http
