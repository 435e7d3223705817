#include "http/logprobs_json.h"

#include <algorithm>

namespace pio::http {
namespace {

using json = nlohmann::json;

constexpr double kLowest = -9999.0;

double finite(float logprob) { return std::max(static_cast<double>(logprob), kLowest); }

json entry(const TokenLogprob& t, const TokenText& text) {
  const std::string s = text(t.id);
  return {{"token", s}, {"logprob", finite(t.logprob)}, {"bytes", std::vector<uint8_t>(s.begin(), s.end())}};
}

}  // namespace

json chat_logprobs(std::span<const TokenLogprobs> tokens, const TokenText& text) {
  json content = json::array();
  for (const TokenLogprobs& t : tokens) {
    json e = entry(t.chosen, text);
    e["top_logprobs"] = json::array();
    for (const TokenLogprob& top : t.top) e["top_logprobs"].push_back(entry(top, text));
    content.push_back(std::move(e));
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

json completion_logprobs(std::span<const TokenLogprobs> tokens, const TokenText& text, size_t& offset) {
  json out = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  for (const TokenLogprobs& t : tokens) {
    const std::string s = text(t.chosen.id);
    out["tokens"].push_back(s);
    out["token_logprobs"].push_back(finite(t.chosen.logprob));
    json top = json::object();
    for (const TokenLogprob& candidate : t.top) top[text(candidate.id)] = finite(candidate.logprob);
    top[s] = finite(t.chosen.logprob);
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(offset);
    offset += s.size();
  }
  return out;
}

}  // namespace pio::http
