#include "http/tool_calls.h"

#include <nlohmann/json.hpp>

#include "http/python_json.h"

namespace pio::http {
namespace {

constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";

std::string_view trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::optional<ToolCall> parse_block(std::string_view body) {
  const auto j = nlohmann::ordered_json::parse(trim(body), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return std::nullopt;
  ToolCall call{j["name"].get<std::string>(), "{}"};
  if (j.contains("arguments")) {
    const auto& args = j["arguments"];
    call.arguments = args.is_string() ? args.get<std::string>() : python_json(args);
  }
  return call;
}

}  // namespace

ParsedOutput parse_tool_calls(std::string_view text) {
  ParsedOutput out;
  std::string content;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find(kOpen, pos);
    content += text.substr(pos, open == std::string_view::npos ? std::string_view::npos : open - pos);
    if (open == std::string_view::npos) break;
    const size_t body = open + kOpen.size();
    const size_t close = text.find(kClose, body);
    const auto call = parse_block(text.substr(body, close == std::string_view::npos ? std::string_view::npos : close - body));
    if (!call) return {std::string(trim(text)).empty() ? std::nullopt : std::optional(std::string(trim(text))), {}};
    out.calls.push_back(*call);
    pos = close == std::string_view::npos ? text.size() : close + kClose.size();
  }
  const std::string_view kept = trim(content);
  if (!kept.empty()) out.content = std::string(kept);
  return out;
}

std::string ToolCallStream::feed(std::string_view delta) {
  held_ += delta;
  if (in_call_) return {};
  const size_t open = held_.find(kOpen);
  size_t keep_from = open;
  if (open != std::string::npos) {
    in_call_ = true;
  } else {
    // Hold a tail that may be the start of the tag.
    keep_from = held_.size();
    for (size_t n = std::min(held_.size(), kOpen.size() - 1); n > 0; --n)
      if (kOpen.substr(0, n) == std::string_view(held_).substr(held_.size() - n)) {
        keep_from = held_.size() - n;
        break;
      }
  }
  std::string out = held_.substr(0, keep_from);
  held_.erase(0, keep_from);
  return out;
}

ParsedOutput ToolCallStream::finish() {
  ParsedOutput out = parse_tool_calls(held_);
  held_.clear();
  return out;
}

}  // namespace pio::http
