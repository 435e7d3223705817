#include "model/generation_defaults.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace pio {
namespace {

using nlohmann::json;

// Field `key` of j as a finite number in [lo, hi] (lo excluded when lo_open), or none when
// absent or null. `where` names the source in errors.
std::optional<double> number_field(const json& j, const char* key, double lo, double hi, bool lo_open,
                                   const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  const double x = it->is_number() ? it->get<double>() : NAN;
  if (!std::isfinite(x) || x < lo || x > hi || (lo_open && x == lo)) {
    std::ostringstream range;
    range << (lo_open ? "(" : "[") << lo << ", " << hi << "]";
    throw std::runtime_error(where + ": " + key + " must be a number in " + range.str() + ", not " + it->dump());
  }
  return x;
}

std::optional<int64_t> integer_field(const json& j, const char* key, int64_t lo, int64_t hi, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi)
    throw std::runtime_error(where + ": " + key + " must be an integer in [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "], not " + it->dump());
  return it->get<int64_t>();
}

// The fields of j that are set, laid over d.
GenerationDefaults apply(GenerationDefaults d, const json& j, const std::string& where) {
  if (!j.is_object()) throw std::runtime_error(where + ": not a JSON object");
  // Ranges as the HTTP API's fields, but temperature as transformers takes it (any >= 0).
  if (auto v = number_field(j, "temperature", 0, 1e6, false, where)) d.temperature = static_cast<float>(*v);
  if (auto v = number_field(j, "top_p", 0, 1, true, where)) d.top_p = static_cast<float>(*v);
  if (auto v = integer_field(j, "top_k", -1, 1 << 20, where)) d.top_k = static_cast<int>(std::max<int64_t>(*v, 0));
  if (auto v = number_field(j, "min_p", 0, 1, false, where)) d.min_p = static_cast<float>(*v);
  if (auto v = number_field(j, "repetition_penalty", 0, 10, true, where)) d.repetition_penalty = static_cast<float>(*v);
  if (auto v = integer_field(j, "max_new_tokens", 1, INT32_MAX, where)) d.max_tokens = static_cast<int32_t>(*v);
  return d;
}

}  // namespace

std::string GenerationDefaults::describe() const {
  std::ostringstream out;
  const char* sep = "";
  const auto put = [&](const char* name, const auto& v) {
    if (v) out << sep << name << " " << *v, sep = ", ";
  };
  put("temperature", temperature);
  put("top_p", top_p);
  put("top_k", top_k);
  put("min_p", min_p);
  put("repetition_penalty", repetition_penalty);
  put("max_tokens", max_tokens);
  return empty() ? "none" : out.str();
}

GenerationDefaults load_generation_defaults(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "generation_config.json";
  std::ifstream in(file);
  if (!in) return {};
  const json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error(file.string() + ": not valid JSON");
  return apply({}, j, file.string());
}

GenerationDefaults override_generation_defaults(GenerationDefaults defaults, std::string_view json_object) {
  const json j = json::parse(json_object, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("--override-generation-config: not valid JSON");
  // Typed by hand: a key that sets nothing is a mistake to point out, not to pass over.
  if (j.is_object())
    for (const auto& [key, value] : j.items())
      if (key != "temperature" && key != "top_p" && key != "top_k" && key != "min_p" && key != "repetition_penalty" &&
          key != "max_new_tokens")
        throw std::runtime_error("--override-generation-config: unknown field " + key +
                                 " (temperature, top_p, top_k, min_p, repetition_penalty, max_new_tokens)");
  return apply(defaults, j, "--override-generation-config");
}

}  // namespace pio
