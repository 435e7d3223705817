#include "http/openai_response.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "http/api_error.h"

namespace pio::http {
namespace {

using json = nlohmann::json;

// Model output is whole UTF-8 characters, but a special token's text or a byte-level token
// may not be: replace what is not UTF-8 rather than fail the answer.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

json timings_json(const StageTimings& t) {
  return {{"queue_ms", t.queue_ms},     {"preprocess_ms", t.preprocess_ms}, {"tokenize_ms", t.tokenize_ms},
          {"vision_ms", t.vision_ms},   {"prefill_ms", t.prefill_ms},       {"ttft_ms", t.ttft_ms},
          {"decode_ms", t.decode_ms},   {"total_ms", t.total_ms}};
}

json tool_calls_json(const std::vector<ToolCall>& calls, const std::string& id, bool with_index) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json call = {{"id", "call_" + id + "_" + std::to_string(i)},
                 {"type", "function"},
                 {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}};
    if (with_index) call["index"] = i;
    out.push_back(std::move(call));
  }
  return out;
}

json base(const ResponseInfo& info, const char* object) {
  return {{"id", info.id}, {"object", object}, {"created", info.created}, {"model", info.model}};
}

// The seed the answer sampled with, as the request's signed `seed` reads it (so it replays).
void add_seed(json& body, const StreamEvent& final) {
  if (final.seed) body["seed"] = static_cast<int64_t>(*final.seed);
}

json choice_json(const ResponseInfo& info, const ChoiceOutput& out, size_t index);

}  // namespace

std::string completion_body(const ResponseInfo& info, const std::string& text, const StreamEvent& final,
                            std::span<const TokenLogprobs> logprobs) {
  const ChoiceOutput one{text, final, std::vector<TokenLogprobs>(logprobs.begin(), logprobs.end())};
  return completion_body(info, std::span(&one, 1));
}

std::string completion_body(const ResponseInfo& info, std::span<const ChoiceOutput> choices) {
  json body = base(info, info.chat ? "chat.completion" : "text_completion");
  body["choices"] = json::array();
  Usage usage = choices.front().final.usage;  // the prompt counts once
  for (size_t i = 0; i < choices.size(); ++i) {
    body["choices"].push_back(choice_json(info, choices[i], i));
    if (i > 0) usage.completion_tokens += choices[i].final.usage.completion_tokens;
  }
  body["usage"] = usage_json(usage);
  body["timings"] = timings_json(choices.front().final.timings);
  add_seed(body, choices.front().final);
  return dump(body);
}

namespace {

json choice_json(const ResponseInfo& info, const ChoiceOutput& out, size_t index) {
  const std::string& text = out.text;
  const StreamEvent& final = out.final;
  const std::vector<TokenLogprobs>& logprobs = out.logprobs;
  json choice = {{"index", index}, {"finish_reason", final.finish_reason}, {"logprobs", nullptr}};
  if (info.logprobs) {
    size_t offset = info.echo.size();
    choice["logprobs"] = info.chat ? chat_logprobs(logprobs, info.logprobs) : completion_logprobs(logprobs, info.logprobs, offset);
  }
  if (!info.chat) {
    choice["text"] = info.echo + text;
  } else {
    json message = {{"role", "assistant"}, {"content", text}};
    if (info.tools) {
      const ParsedOutput parsed = parse_tool_calls(text);
      if (!parsed.calls.empty()) {
        message["content"] = parsed.content ? json(*parsed.content) : json(nullptr);
        message["tool_calls"] = tool_calls_json(parsed.calls, info.id, false);
        choice["finish_reason"] = "tool_calls";
      }
    }
    choice["message"] = std::move(message);
  }
  return choice;
}

}  // namespace

std::string sse_error(int status, const std::string& message) {
  return "data: " + error_body(status, message) + "\n\ndata: [DONE]\n\n";
}

StreamFormatter::StreamFormatter(ResponseInfo info, bool include_usage, size_t index)
    : info_(std::move(info)), include_usage_(include_usage), index_(index) {}

std::string StreamFormatter::chunk(const json& choice, const json& extra) const {
  json c = base(info_, info_.chat ? "chat.completion.chunk" : "text_completion");
  c["choices"] = json::array({choice});
  if (include_usage_) c["usage"] = nullptr;  // OpenAI: null on every chunk but the last
  if (extra.is_object())
    for (const auto& [k, v] : extra.items()) c[k] = v;
  return "data: " + dump(c) + "\n\n";
}

json StreamFormatter::take_logprobs() {
  if (!info_.logprobs) return nullptr;
  const std::vector<TokenLogprobs> tokens = std::exchange(pending_, {});
  return info_.chat ? chat_logprobs(tokens, info_.logprobs) : completion_logprobs(tokens, info_.logprobs, offset_);
}

std::string StreamFormatter::text_chunk(const std::string& text) {
  if (text.empty()) return "";
  if (!info_.chat) {
    return chunk({{"index", index_}, {"text", text}, {"finish_reason", nullptr}, {"logprobs", take_logprobs()}});
  }
  return chunk({{"index", index_}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}, {"logprobs", take_logprobs()}});
}

std::string StreamFormatter::start() {
  if (!info_.chat) {
    if (info_.echo.empty()) return "";
    offset_ = info_.echo.size();
    return chunk({{"index", index_}, {"text", info_.echo}, {"finish_reason", nullptr}, {"logprobs", nullptr}});
  }
  return chunk({{"index", index_}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"finish_reason", nullptr}, {"logprobs", nullptr}});
}

std::string StreamFormatter::delta(const std::string& text, std::span<const TokenLogprobs> logprobs) {
  if (info_.logprobs) pending_.insert(pending_.end(), logprobs.begin(), logprobs.end());
  return text_chunk(info_.tools ? tool_stream_.feed(text) : text);
}

std::string StreamFormatter::finish(const StreamEvent& final) { return finish_choice(final) + end(final.usage); }

std::string StreamFormatter::finish_choice(const StreamEvent& final) {
  std::string out = delta(final.text, final.logprobs);
  std::string reason = final.finish_reason;
  if (info_.tools) {
    const ParsedOutput held = tool_stream_.finish();
    if (held.content) out += text_chunk(*held.content);
    if (!held.calls.empty()) {
      out += chunk({{"index", index_}, {"delta", {{"tool_calls", tool_calls_json(held.calls, info_.id, true)}}},
                    {"finish_reason", nullptr}, {"logprobs", nullptr}});
      reason = "tool_calls";
    }
  }
  json timings = {{"timings", timings_json(final.timings)}};
  add_seed(timings, final);
  // Ids whose text never went out (an end-of-turn id, a stop string's) come with the last chunk.
  const json rest = pending_.empty() ? json(nullptr) : take_logprobs();
  if (info_.chat)
    out += chunk({{"index", index_}, {"delta", json::object()}, {"finish_reason", reason}, {"logprobs", rest}}, timings);
  else
    out += chunk({{"index", index_}, {"text", ""}, {"finish_reason", reason}, {"logprobs", rest}}, timings);
  return out;
}

std::string StreamFormatter::end(const Usage& usage) const {
  std::string out;
  if (include_usage_) {
    json c = base(info_, info_.chat ? "chat.completion.chunk" : "text_completion");
    c["choices"] = json::array();
    c["usage"] = usage_json(usage);
    out += "data: " + dump(c) + "\n\n";
  }
  return out + "data: [DONE]\n\n";
}

}  // namespace pio::http
