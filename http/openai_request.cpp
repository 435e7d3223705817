#include "http/openai_request.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include <nlohmann/json.hpp>

#include "http/api_error.h"
#include "http/json_integer.h"
#include "http/python_json.h"
#include "serving/json_schema.h"

namespace pio::http {
namespace {

using json = nlohmann::ordered_json;

// The fields each endpoint takes; any other non-null field is a 400 naming it. Implemented here,
// then taken as hints (OpenAI documents them as not changing the answer; `user` is also the fair
// policy's client id), then known to wt-logprobs' work (logprobs, logit_bias, echo, n > 1).
constexpr const char* kChatFields[] = {
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p",
    "presence_penalty", "frequency_penalty", "repetition_penalty", "seed", "n", "stop", "stream", "stream_options",
    "tools", "tool_choice", "response_format", "user",
    "metadata", "store", "service_tier", "parallel_tool_calls", "prompt_cache_key", "safety_identifier",
    "logprobs", "top_logprobs", "logit_bias"};
constexpr const char* kCompletionFields[] = {
    "model", "prompt", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p",
    "presence_penalty", "frequency_penalty", "repetition_penalty", "seed", "n", "best_of", "stop", "stream",
    "stream_options", "user",
    "logprobs", "logit_bias", "echo"};
constexpr const char* kMessageFields[] = {"role", "content", "name", "tool_calls", "tool_call_id", "refusal"};
constexpr const char* kStreamOptions[] = {"include_usage"};
constexpr const char* kTextPart[] = {"type", "text"};
constexpr const char* kImagePart[] = {"type", "image_url"};
constexpr const char* kImageUrl[] = {"url", "detail"};  // detail: a hint (the image is sized by --max-pixels)

// Refuses a non-null field of `obj` that is not in `known`; `where` prefixes its name.
template <size_t N>
void reject_unknown(const json& obj, const char* const (&known)[N], const std::string& where = "") {
  for (const auto& item : obj.items()) {
    const std::string& key = item.key();  // not a structured binding: clang 14 cannot capture one
    if (item.value().is_null() || std::any_of(std::begin(known), std::end(known), [&](const char* k) { return key == k; }))
      continue;
    const std::string name = where + excerpt(key);
    throw ApiError(400, "unsupported parameter: " + name + " (pio does not implement it; the README's API table lists "
                                                         "what each endpoint takes)", name);
  }
}

// nlohmann's parse error in a reader's words: where, and what was wrong, without the library's
// prefix or the text it last read (which may be a whole image's base64).
std::string parse_error_words(std::string message) {
  if (message.starts_with("[json.exception.")) message.erase(0, message.find("] ") + 2);
  if (message.starts_with("parse error ")) message.erase(0, 12);
  if (const size_t at = message.find("syntax error while parsing"); at != std::string::npos) {
    const size_t dash = message.find(" - ", at);
    if (dash != std::string::npos) message.erase(at, dash + 3 - at);
  }
  if (const size_t at = message.find("; last read"); at != std::string::npos) message.erase(at);
  return message;
}

// A bound as people write it: 2, 0.5, -2 (not 2.000000).
std::string number_words(double x) {
  char out[32];
  std::snprintf(out, sizeof out, "%g", x);
  return out;
}

// Parses the body; deeper nesting than the limit is refused while parsing, before it is built.
json parse_body(std::string_view body, int max_depth) {
  const auto depth_check = [max_depth](int depth, json::parse_event_t, json&) {
    if (depth > max_depth) throw ApiError(400, "the JSON nests deeper than " + std::to_string(max_depth) + " levels");
    return true;
  };
  json j;
  try {
    j = json::parse(body, depth_check);
  } catch (const json::exception& e) {
    throw ApiError(400, "the body is not valid JSON: " + parse_error_words(e.what()));
  }
  if (!j.is_object()) throw ApiError(400, "the body must be a JSON object");
  return j;
}

// A present, non-null field (OpenAI clients send null for "not given").
const json* field(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string string_of(const json& v, const std::string& param) {
  if (!v.is_string()) throw ApiError(400, param + " must be a string", param);
  return v.get<std::string>();
}

bool bool_of(const json& v, const std::string& param) {
  if (!v.is_boolean()) throw ApiError(400, param + " must be a boolean", param);
  return v.get<bool>();
}

double number_in(const json& v, const std::string& param, double lo, double hi, bool lo_open = false) {
  if (!v.is_number()) throw ApiError(400, param + " must be a number", param);
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi || (lo_open && x == lo))
    throw ApiError(400, param + " must be in " + (lo_open ? "(" : "[") + number_words(lo) + ", " + number_words(hi) + "]", param);
  return x;
}

// The fields both endpoints share: sampling, stop, n, stream, user, max_tokens.
void parse_common(const json& j, const RequestLimits& limits, int32_t default_max_tokens, ParsedRequest& out) {
  ChatRequest& r = out.request;
  if (const json* v = field(j, "model")) out.model = string_of(*v, "model");
  SamplingOptions& s = r.sampling;
  s.temperature = limits.sampling.temperature;
  s.top_p = limits.sampling.top_p;
  s.top_k = limits.sampling.top_k;
  s.min_p = limits.sampling.min_p;
  s.repetition_penalty = limits.sampling.repetition_penalty;
  if (const json* v = field(j, "temperature")) s.temperature = static_cast<float>(number_in(*v, "temperature", 0, 2));
  if (const json* v = field(j, "top_p")) s.top_p = static_cast<float>(number_in(*v, "top_p", 0, 1, true));
  if (const json* v = field(j, "top_k")) {  // vLLM: -1 or 0 is no limit
    const int64_t k = integer_in(*v, "top_k", -1, 1 << 20);
    s.top_k = static_cast<int>(std::max<int64_t>(k, 0));
  }
  if (const json* v = field(j, "min_p")) s.min_p = static_cast<float>(number_in(*v, "min_p", 0, 1));
  if (const json* v = field(j, "presence_penalty")) s.presence_penalty = static_cast<float>(number_in(*v, "presence_penalty", -2, 2));
  if (const json* v = field(j, "frequency_penalty")) s.frequency_penalty = static_cast<float>(number_in(*v, "frequency_penalty", -2, 2));
  if (const json* v = field(j, "repetition_penalty"))
    s.repetition_penalty = static_cast<float>(number_in(*v, "repetition_penalty", 0, 10, true));
  if (const json* v = field(j, "seed"))
    s.seed = static_cast<uint64_t>(integer_in(*v, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
  if (const json* v = field(j, "n")) out.n = static_cast<int32_t>(integer_in(*v, "n", 1, kMaxChoices));
  r.max_tokens = default_max_tokens;
  r.clip_max_tokens = true;  // unless the request names it
  for (const char* key : {"max_tokens", "max_completion_tokens"})
    if (const json* v = field(j, key)) {
      r.max_tokens = static_cast<int32_t>(integer_in(*v, key, 1, limits.max_tokens));
      r.clip_max_tokens = false;
    }
  if (const json* v = field(j, "stop")) {
    if (v->is_string()) {
      r.stop.push_back(v->get<std::string>());
    } else if (v->is_array() && v->size() <= 16) {
      for (size_t i = 0; i < v->size(); ++i) r.stop.push_back(string_of((*v)[i], "stop[" + std::to_string(i) + "]"));
    } else {
      throw ApiError(400, "stop must be a string or a list of at most 16 strings", "stop");
    }
    std::erase(r.stop, std::string());
  }
  if (const json* v = field(j, "stream")) out.stream = bool_of(*v, "stream");
  if (const json* v = field(j, "stream_options")) {
    if (!v->is_object()) throw ApiError(400, "stream_options must be an object", "stream_options");
    reject_unknown(*v, kStreamOptions, "stream_options.");
    if (const json* u = field(*v, "include_usage")) out.include_usage = bool_of(*u, "stream_options.include_usage");
    // As OpenAI and vLLM: options of a stream that is not asked for are a mistake to point out.
    if (!out.stream) throw ApiError(400, "stream_options is only allowed when stream is true", "stream_options");
  }
  if (const json* v = field(j, "user")) r.client_id = string_of(*v, "user");
  r.stream = true;  // the gateway collects the deltas itself when the client did not ask for a stream
}

// logit_bias: {"<token id>": bias in [-100, 100]}, at most kMaxLogitBias entries.
std::vector<LogitBias> parse_logit_bias(const json& v) {
  if (!v.is_object()) throw ApiError(400, "logit_bias must be an object of token ids to biases", "logit_bias");
  if (v.size() > kMaxLogitBias)
    throw ApiError(400, "logit_bias has more than " + std::to_string(kMaxLogitBias) + " entries", "logit_bias");
  std::vector<LogitBias> out;
  for (const auto& [key, bias] : v.items()) {
    const std::string at = "logit_bias[\"" + key.substr(0, 32) + "\"]";
    const bool digits = !key.empty() && key.size() <= 10 && key.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoll(key) > std::numeric_limits<int32_t>::max())
      throw ApiError(400, at + ": the key must be a token id (a non-negative integer)", "logit_bias");
    try {
      out.push_back({static_cast<int32_t>(std::stoll(key)), static_cast<float>(number_in(bias, at, -100, 100))});
    } catch (const ApiError& e) {
      throw ApiError(400, e.what(), "logit_bias");
    }
  }
  return out;
}

// logprobs, top_logprobs and logit_bias. Chat: logprobs a boolean, top_logprobs 0..20 with it;
// completions: logprobs the number of top ids 0..5 (OpenAI's legacy shape).
void parse_logprobs(const json& j, bool chat, SamplingOptions& s) {
  if (const json* v = field(j, "logit_bias")) s.logit_bias = parse_logit_bias(*v);
  const json* lp = field(j, "logprobs");
  if (!chat) {
    if (lp) s.top_logprobs = static_cast<int32_t>(integer_in(*lp, "logprobs", 0, 5));
    s.logprobs = lp != nullptr;
    return;
  }
  s.logprobs = lp && bool_of(*lp, "logprobs");
  if (const json* v = field(j, "top_logprobs")) {
    s.top_logprobs = static_cast<int32_t>(integer_in(*v, "top_logprobs", 0, 20));
    if (!s.logprobs) throw ApiError(400, "top_logprobs needs logprobs: true", "top_logprobs");
  }
}

// One content part: text, or an image_url loaded and probed.
// images: each image's field so far ("messages[0].content[1].image_url"), this one's added.
ContentPart parse_part(const json& part, const std::string& where, bool images_allowed, const RequestLimits& limits,
                       std::vector<std::string>& images) {
  if (!part.is_object()) throw ApiError(400, where + " must be an object", where);
  const std::string type = field(part, "type") ? string_of(part["type"], where + ".type") : "";
  if (type == "text") {
    reject_unknown(part, kTextPart, where + ".");
    const json* text = field(part, "text");
    if (!text) throw ApiError(400, where + ".text is missing", where + ".text");
    return {string_of(*text, where + ".text"), {}, false};
  }
  if (type != "image_url") throw ApiError(400, where + ".type must be text or image_url", where + ".type");
  if (!images_allowed) throw ApiError(400, "images are allowed in user messages only", where);
  reject_unknown(part, kImagePart, where + ".");
  images.push_back(where + ".image_url");
  if (std::ssize(images) > limits.max_images)
    throw ApiError(400, "more than " + std::to_string(limits.max_images) + " images in one request", where);
  const json* image = field(part, "image_url");
  if (!image) throw ApiError(400, where + ".image_url is missing", where + ".image_url");
  std::string url;
  if (image->is_string()) {
    url = image->get<std::string>();
  } else if (image->is_object() && field(*image, "url")) {
    reject_unknown(*image, kImageUrl, where + ".image_url.");
    url = string_of((*image)["url"], where + ".image_url.url");
  } else {
    throw ApiError(400, where + ".image_url must be an object with a url", where + ".image_url");
  }
  return {"", load_image(url, limits.media, where + ".image_url"), true};
}

std::vector<ToolCall> parse_tool_call_list(const json& calls, const std::string& where) {
  if (!calls.is_array()) throw ApiError(400, where + " must be a list", where);
  std::vector<ToolCall> out;
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    const json* fn = calls[i].is_object() ? field(calls[i], "function") : nullptr;
    if (!fn || !fn->is_object()) throw ApiError(400, at + ".function must be an object", at + ".function");
    const json* name = field(*fn, "name");
    if (!name) throw ApiError(400, at + ".function.name is missing", at + ".function.name");
    ToolCall call{string_of(*name, at + ".function.name"), "{}"};
    if (const json* args = field(*fn, "arguments")) call.arguments = args->is_string() ? args->get<std::string>() : python_json(*args);
    out.push_back(std::move(call));
  }
  return out;
}

ChatTurn parse_message(const json& m, const std::string& where, const RequestLimits& limits,
                       std::vector<std::string>& images) {
  if (!m.is_object()) throw ApiError(400, where + " must be an object", where);
  reject_unknown(m, kMessageFields, where + ".");
  const json* role = field(m, "role");
  if (!role) throw ApiError(400, where + ".role is missing", where + ".role");
  ChatTurn turn{string_of(*role, where + ".role"), {}};
  if (turn.role == "developer") turn.role = "system";  // OpenAI's newer name for it
  if (turn.role != "system" && turn.role != "user" && turn.role != "assistant" && turn.role != "tool")
    throw ApiError(400, where + ".role must be system, developer, user, assistant or tool", where + ".role");
  const json* content = field(m, "content");
  if (content) {
    if (content->is_string()) {
      if (!content->get<std::string>().empty()) turn.parts.push_back({content->get<std::string>(), {}, false});
    } else if (content->is_array()) {
      for (size_t i = 0; i < content->size(); ++i)
        turn.parts.push_back(parse_part((*content)[i], where + ".content[" + std::to_string(i) + "]", turn.role == "user",
                                        limits, images));
    } else {
      throw ApiError(400, where + ".content must be a string or a list of parts", where + ".content");
    }
  }
  // A user turn has content, as OpenAI requires: missing, null or [] is a 400 ("" is text, if
  // none); others may go without (an assistant turn that only calls tools).
  if (turn.role == "user" && (!content || (content->is_array() && content->empty())))
    throw ApiError(400, where + ".content is missing: a user message needs text or an image", where + ".content");
  if (const json* calls = field(m, "tool_calls")) {
    if (turn.role != "assistant") throw ApiError(400, "only assistant messages carry tool_calls", where + ".tool_calls");
    turn.tool_calls = parse_tool_call_list(*calls, where + ".tool_calls");
  }
  return turn;
}

// tools: [{type: function, function: {name, ...}}], each kept as the template's tojson writes it.
std::vector<std::string> parse_tools(const json& tools) {
  if (!tools.is_array()) throw ApiError(400, "tools must be a list", "tools");
  std::vector<std::string> out;
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string at = "tools[" + std::to_string(i) + "]";
    const json& t = tools[i];
    if (!t.is_object()) throw ApiError(400, at + " must be an object", at);
    const json* fn = field(t, "function");
    if (!fn || !fn->is_object() || !field(*fn, "name") || !(*fn)["name"].is_string())
      throw ApiError(400, at + ".function must be an object with a string name", at + ".function");
    out.push_back(python_json(t));
  }
  return out;
}

// Compiles a schema to see that it can be followed; a 400 naming `param` otherwise.
void checked_schema(const std::string& schema, const std::string& param) {
  try {
    compile_json_schema(schema);
  } catch (const SchemaError& e) {
    throw ApiError(400, e.what(), param);
  }
}

// response_format: text (nothing), json_object (any JSON object), or json_schema, whose schema
// is compiled here so that one pio cannot follow is a 400 naming what it cannot.
std::string parse_response_format(const json& v) {
  const std::string where = "response_format";
  if (!v.is_object()) throw ApiError(400, where + " must be an object", where);
  const json* type = field(v, "type");
  if (!type) throw ApiError(400, where + ".type is missing", where + ".type");
  const std::string t = string_of(*type, where + ".type");
  if (t == "text") return "";
  if (t == "json_object") return R"({"type":"object"})";
  if (t != "json_schema") throw ApiError(400, where + ".type must be text, json_object or json_schema", where + ".type");
  const json* spec = field(v, "json_schema");
  if (!spec || !spec->is_object()) throw ApiError(400, where + ".json_schema must be an object", where + ".json_schema");
  for (const char* key : {"name", "description"})
    if (const json* s = field(*spec, key)) string_of(*s, where + ".json_schema." + key);
  // strict (in json_schema, as OpenAI puts it, or beside it): the schema is always followed.
  if (const json* s = field(*spec, "strict")) bool_of(*s, where + ".json_schema.strict");
  if (const json* s = field(v, "strict")) bool_of(*s, where + ".strict");
  const json* schema = field(*spec, "schema");
  if (!schema) throw ApiError(400, where + ".json_schema.schema is missing", where + ".json_schema.schema");
  std::string text = schema->dump();
  checked_schema(text, where + ".json_schema.schema");
  return text;
}

// A required tool call (tool_choice "required", or a named function: `only`): Qwen's
// `<tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>` with the name one of the tools'
// and the arguments matching its parameters. The tools' $defs are gathered at the root, where
// their $refs point.
StructuredOutput tool_call_output(const json& tools, const std::string& only) {
  json alternatives = json::array(), defs = json::object(), definitions = json::object();
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& fn = tools[i]["function"];
    const std::string name = fn["name"].get<std::string>();
    if (!only.empty() && name != only) continue;
    const json* params = field(fn, "parameters");
    for (auto [key, into] : {std::pair<const char*, json*>{"$defs", &defs}, {"definitions", &definitions}}) {
      const json* d = params && params->is_object() ? field(*params, key) : nullptr;
      if (!d) continue;
      for (const auto& [k, v] : d->items()) {
        if (into->contains(k) && (*into)[k] != v)
          throw ApiError(400, "tools define " + std::string(key) + "/" + k + " differently", "tools");
        (*into)[k] = v;
      }
    }
    alternatives.push_back({{"type", "object"},
                            {"properties", {{"name", {{"const", name}}}, {"arguments", params ? *params : json{{"type", "object"}}}}},
                            {"required", {"name", "arguments"}},
                            {"additionalProperties", false}});
  }
  if (alternatives.empty()) throw ApiError(400, "tool_choice names a function that is not among the tools", "tool_choice");
  json schema = {{"anyOf", alternatives}};
  if (!defs.empty()) schema["$defs"] = defs;
  if (!definitions.empty()) schema["definitions"] = definitions;
  StructuredOutput out{schema.dump(), "<tool_call>\n", "\n</tool_call>"};
  checked_schema(out.schema, "tools");
  return out;
}

}  // namespace

void check_model(const std::string& model, const std::vector<std::string>& served) {
  if (model.empty() || std::find(served.begin(), served.end(), model) != served.end()) return;
  std::string names;
  for (const std::string& name : served) names += (names.empty() ? "" : ", ") + name;
  throw ApiError(404, "The model `" + excerpt(model) + "` does not exist (this node serves: " + names + ")", "model");
}

ParsedRequest parse_chat_request(std::string_view body, const RequestLimits& limits) {
  const json j = parse_body(body, limits.max_depth);
  reject_unknown(j, kChatFields);
  ParsedRequest out;
  parse_common(j, limits, limits.default_max_tokens, out);
  parse_logprobs(j, true, out.request.sampling);
  const json* messages = field(j, "messages");
  if (!messages) throw ApiError(400, "messages is missing", "messages");
  if (!messages->is_array() || messages->empty()) throw ApiError(400, "messages must be a non-empty list", "messages");
  for (size_t i = 0; i < messages->size(); ++i) {
    const std::string where = "messages[" + std::to_string(i) + "]";
    out.request.messages.push_back(parse_message((*messages)[i], where, limits, out.image_fields));
    if (out.request.messages.back().role == "system" && i != 0)
      throw ApiError(400, where + ": a system message must come first", where);
  }
  // tool_choice: none, auto, required, or {"type": "function", "function": {"name": ...}}
  // naming one of the tools. Required and a named function constrain the answer to one call.
  std::string tool_choice = "auto";
  std::string named;  // the function a tool_choice object names
  if (const json* v = field(j, "tool_choice")) {
    if (v->is_string()) {
      tool_choice = v->get<std::string>();
      if (tool_choice != "none" && tool_choice != "auto" && tool_choice != "required")
        throw ApiError(400, "tool_choice must be none, auto, required or a function", "tool_choice");
    } else if (v->is_object()) {
      const json* fn = field(*v, "function");
      const json* name = fn && fn->is_object() ? field(*fn, "name") : nullptr;
      if (!name || !name->is_string())
        throw ApiError(400, "tool_choice must be {\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice");
      tool_choice = "function";
      named = name->get<std::string>();
    } else {
      throw ApiError(400, "tool_choice must be a string or an object", "tool_choice");
    }
  }
  const json* tools = field(j, "tools");
  if (tool_choice != "none" && tool_choice != "auto" && (!tools || (tools->is_array() && tools->empty())))
    throw ApiError(400, "tool_choice " + (tool_choice == "required" ? std::string("\"required\"") : "naming a function") +
                            " needs tools", "tool_choice");
  if (tools && tool_choice != "none") {
    out.request.tools = parse_tools(*tools);
    out.tools = !out.request.tools.empty();
    const auto names_it = [&](const json& t) { return t["function"]["name"] == named; };  // parse_tools checked the shape
    if (!named.empty() && std::none_of(tools->begin(), tools->end(), names_it))
      throw ApiError(400, "tool_choice names " + excerpt(named) + ", which is not one of the tools", "tool_choice");
  }
  if (const json* v = field(j, "response_format")) out.request.structured.schema = parse_response_format(*v);
  if (tool_choice == "required" || tool_choice == "function") {
    if (!out.request.structured.schema.empty())
      throw ApiError(400, "response_format and a required tool call cannot both shape the answer", "response_format");
    out.request.structured = tool_call_output(*tools, named);
  }
  return out;
}

ParsedRequest parse_completion_request(std::string_view body, const RequestLimits& limits) {
  const json j = parse_body(body, limits.max_depth);
  reject_unknown(j, kCompletionFields);
  ParsedRequest out;
  parse_common(j, limits, 16, out);
  if (const json* v = field(j, "best_of"); v && integer_in(*v, "best_of", 1, 128) != 1)
    throw ApiError(400, "best_of must be 1: one choice per request", "best_of");
  parse_logprobs(j, false, out.request.sampling);
  if (const json* v = field(j, "echo")) out.echo = bool_of(*v, "echo");
  if (out.echo && out.request.sampling.logprobs)
    throw ApiError(400, "echo with logprobs would need the prompt's log-probabilities, which pio does not compute", "echo");
  const json* prompt = field(j, "prompt");
  if (!prompt) throw ApiError(400, "prompt is missing", "prompt");
  // A list of one prompt is that prompt; several are a batch, which a request here is not.
  const json* p = prompt;
  if (p->is_array() && p->size() == 1 && ((*p)[0].is_string() || (*p)[0].is_array())) p = &(*p)[0];
  if (p->is_array() && std::any_of(p->begin(), p->end(), [](const json& e) { return e.is_string() || e.is_array(); }))
    throw ApiError(400, "prompt holds several prompts: a batch is not supported, send one prompt per request", "prompt");
  if (p->is_string()) {
    out.request.prompt = p->get<std::string>();
    if (out.request.prompt.empty()) throw ApiError(400, "prompt is empty", "prompt");
  } else if (p->is_array() && !p->empty()) {
    for (size_t i = 0; i < p->size(); ++i)
      out.request.prompt_ids.push_back(
          static_cast<int32_t>(integer_in((*p)[i], "prompt[" + std::to_string(i) + "]", 0, std::numeric_limits<int32_t>::max())));
  } else {
    throw ApiError(400, "prompt must be a string or a non-empty list of token ids (one prompt per request)", "prompt");
  }
  return out;
}

}  // namespace pio::http

namespace pio::http {

nlohmann::ordered_json parse_json_object(std::string_view body, int max_depth) { return parse_body(body, max_depth); }

}  // namespace pio::http
