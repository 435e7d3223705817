#include "serving/json_schema.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace pio {
namespace {

using json = nlohmann::ordered_json;  // properties keep their order
using Symbol = GrammarBuilder::Symbol;
using Sequence = GrammarBuilder::Sequence;

constexpr int kMaxItemsSpan = 64;        // maxItems - minItems, written out as nested options
constexpr size_t kMaxElements = 1 << 20;  // grammar size bound (a schema's own size bounds it too)

const std::set<std::string> kKeywords = {
    "type",  "properties", "required", "additionalProperties", "enum",    "const",       "items",
    "minItems", "maxItems", "$ref",  "$defs",       "definitions", "anyOf", "oneOf",   "title",
    "description", "default", "examples", "$schema", "$id", "$comment", "format"};

class Compiler {
 public:
  explicit Compiler(const json& root) : root_(root) {
    ByteSet space;
    for (char c : {' ', '\n', '\t'}) space.add(static_cast<uint8_t>(c));
    ws_ = b_.repeat(b_.bytes(space), 0, kJsonWhitespace);
    string_ = make_string();
    integer_ = make_integer();
    number_ = make_number();
  }

  Grammar compile(std::string_view prefix, std::string_view suffix) {
    const Symbol value = schema(root_, "#", 0);
    Sequence all = b_.literal(prefix);
    all.insert(all.end(), {ws_, value});
    const Sequence tail = b_.literal(suffix);
    all.insert(all.end(), tail.begin(), tail.end());
    return b_.finish(b_.rule({all}));
  }

 private:
  [[noreturn]] static void fail(const std::string& where, const std::string& what) {
    throw SchemaError("response schema at " + where + ": " + what);
  }

  Symbol make_string() {
    const Symbol cont = b_.range(0x80, 0xbf);
    ByteSet plain;  // printable ASCII but the quote and the backslash
    plain.add_range(0x20, 0x7f);
    plain.bits[0x22 >> 6] &= ~(uint64_t{1} << (0x22 & 63));
    plain.bits[0x5c >> 6] &= ~(uint64_t{1} << (0x5c & 63));
    ByteSet escaped;
    for (char c : std::string_view("\"\\/bfnrt")) escaped.add(static_cast<uint8_t>(c));
    ByteSet hex;
    hex.add_range('0', '9');
    hex.add_range('a', 'f');
    hex.add_range('A', 'F');
    const Symbol h = b_.bytes(hex);
    ByteSet e1;  // E1-EC, EE, EF: any two continuation bytes
    e1.add_range(0xe1, 0xec);
    e1.add_range(0xee, 0xef);
    // Well-formed UTF-8 only (RFC 3629: no overlongs, surrogates or code points past U+10FFFF).
    const Symbol ch = b_.rule({{b_.bytes(plain)},
                               {b_.byte('\\'), b_.bytes(escaped)},
                               {b_.byte('\\'), b_.byte('u'), h, h, h, h},
                               {b_.range(0xc2, 0xdf), cont},
                               {b_.byte(0xe0), b_.range(0xa0, 0xbf), cont},
                               {b_.bytes(e1), cont, cont},
                               {b_.byte(0xed), b_.range(0x80, 0x9f), cont},
                               {b_.byte(0xf0), b_.range(0x90, 0xbf), cont, cont},
                               {b_.range(0xf1, 0xf3), cont, cont, cont},
                               {b_.byte(0xf4), b_.range(0x80, 0x8f), cont, cont}});
    return b_.rule({{b_.byte('"'), b_.repeat(ch, 0, -1), b_.byte('"')}});
  }

  Symbol make_integer() {
    const Symbol digits = b_.repeat(b_.range('0', '9'), 0, 15);
    const Symbol unsigned_part = b_.rule({{b_.byte('0')}, {b_.range('1', '9'), digits}});
    return b_.rule({{unsigned_part}, {b_.byte('-'), unsigned_part}});
  }

  Symbol make_number() {
    const Symbol digit = b_.range('0', '9');
    const Symbol frac = b_.rule({{}, {b_.byte('.'), b_.repeat(digit, 1, 16)}});
    ByteSet e, sign;
    e.add('e');
    e.add('E');
    sign.add('+');
    sign.add('-');
    const Symbol exp = b_.rule({{}, {b_.bytes(e), b_.repeat(b_.bytes(sign), 0, 1), b_.repeat(digit, 1, 2)}});
    return b_.rule({{integer_, frac, exp}});
  }

  // A string of a format: date, time, date-time (RFC 3339: month 01-12, day 01-31, hour
  // 00-23, minutes and seconds 00-59, fraction up to 6 digits, Z or an offset), uuid.
  Symbol formatted(const json& format, const std::string& where) {
    if (!format.is_string()) fail(where, "format must be a string");
    const std::string f = format.get<std::string>();
    const Symbol d = b_.range('0', '9'), q = b_.byte('"');
    const auto two = [&](char first_lo, char first_hi, char second_hi) {
      return Sequence{b_.range(static_cast<uint8_t>(first_lo), static_cast<uint8_t>(first_hi)),
                      b_.range('0', static_cast<uint8_t>(second_hi))};
    };
    const Symbol month = b_.rule({{b_.byte('0'), b_.range('1', '9')}, {b_.byte('1'), b_.range('0', '2')}});
    const Symbol day = b_.rule({{b_.byte('0'), b_.range('1', '9')}, two('1', '2', '9'), {b_.byte('3'), b_.range('0', '1')}});
    const Symbol hour = b_.rule({two('0', '1', '9'), {b_.byte('2'), b_.range('0', '3')}});
    const Symbol sixty = b_.rule({two('0', '5', '9')});
    const Symbol date = b_.rule({{d, d, d, d, b_.byte('-'), month, b_.byte('-'), day}});
    ByteSet sign, zulu, t;
    sign.add('+');
    sign.add('-');
    zulu.add('Z');
    zulu.add('z');
    t.add('T');
    t.add('t');
    const Symbol offset = b_.rule({{b_.bytes(zulu)}, {b_.bytes(sign), hour, b_.byte(':'), sixty}});
    const Symbol fraction = b_.rule({{}, {b_.byte('.'), b_.repeat(d, 1, 6)}});
    const Symbol time = b_.rule({{hour, b_.byte(':'), sixty, b_.byte(':'), sixty, fraction, offset}});
    ByteSet hex_set;
    hex_set.add_range('0', '9');
    hex_set.add_range('a', 'f');
    hex_set.add_range('A', 'F');
    const Symbol hex = b_.bytes(hex_set);
    const auto hexes = [&](int n) { return b_.repeat(hex, n, n); };
    if (f == "date") return b_.rule({{q, date, q}});
    if (f == "time") return b_.rule({{q, time, q}});
    if (f == "date-time") return b_.rule({{q, date, b_.bytes(t), time, q}});
    if (f == "uuid")
      return b_.rule({{q, hexes(8), b_.byte('-'), hexes(4), b_.byte('-'), hexes(4), b_.byte('-'), hexes(4), b_.byte('-'),
                       hexes(12), q}});
    fail(where, "format '" + f + "' is not supported (date, time, date-time and uuid are)");
  }

  Symbol literal(const json& value) { return b_.rule({b_.literal(value.dump())}); }

  // Any JSON value nested `depth` deep (objects and arrays only above kJsonMaxDepth).
  Symbol any_value(int depth) {
    if (const auto it = any_.find(depth); it != any_.end()) return it->second;
    std::vector<Sequence> alts = {{string_}, {number_}, b_.literal("true"), b_.literal("false"), b_.literal("null")};
    if (depth < kJsonMaxDepth) {
      const Symbol inner = any_value(depth + 1);
      alts.push_back({map_of(inner)});
      alts.push_back({list_of(inner, 0, -1)});
    }
    return any_[depth] = b_.rule(alts);
  }

  // An object of any keys, each value `value`.
  Symbol map_of(Symbol value) {
    const Symbol kv = b_.rule({{string_, ws_, b_.byte(':'), ws_, value, ws_}});
    const Symbol more = b_.repeat(b_.rule({{b_.byte(','), ws_, kv}}), 0, -1);
    const Symbol body = b_.rule({{}, {kv, more}});
    return b_.rule({{b_.byte('{'), ws_, body, b_.byte('}')}});
  }

  // An array of min..max (max < 0: any number of) `item`s.
  Symbol list_of(Symbol item, int min, int max) {
    const Symbol first = b_.rule({{item, ws_}});
    const Symbol next = b_.rule({{b_.byte(','), ws_, item, ws_}});
    Symbol body;
    if (max == 0) {
      body = b_.rule({{}});
    } else {
      const Symbol rest = b_.repeat(next, std::max(min - 1, 0), max < 0 ? -1 : max - 1);
      body = min > 0 ? b_.rule({{first, rest}}) : b_.rule({{}, {first, rest}});
    }
    return b_.rule({{b_.byte('['), ws_, body, b_.byte(']')}});
  }

  const json& resolve(const std::string& ref, const std::string& where) {
    for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
      const std::string p = prefix;
      if (ref.rfind(p, 0) != 0) continue;
      const std::string name = ref.substr(p.size());
      const std::string section = p.substr(2, p.size() - 3);
      if (root_.contains(section) && root_[section].is_object() && root_[section].contains(name))
        return root_[section][name];
      fail(where, "$ref '" + ref + "' names no definition");
    }
    fail(where, "$ref '" + ref + "' is not supported (only #/$defs/NAME and #/definitions/NAME)");
  }

  Symbol schema(const json& s, const std::string& where, int depth) {
    if (depth > kJsonMaxDepth) fail(where, "nested deeper than " + std::to_string(kJsonMaxDepth));
    if (b_.size() > kMaxElements) fail(where, "the schema is too large");
    if (s.is_boolean()) {
      if (!s.get<bool>()) fail(where, "the schema false allows nothing");
      return any_value(depth);
    }
    if (!s.is_object()) fail(where, "a schema must be an object or a boolean");
    for (const auto& [key, _] : s.items())
      if (!kKeywords.count(key)) fail(where, "keyword '" + key + "' is not supported");

    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) fail(where, "$ref must be a string");
      const std::string ref = s["$ref"].get<std::string>();
      if (std::find(refs_.begin(), refs_.end(), ref) != refs_.end())
        fail(where, "$ref '" + ref + "' is recursive, which is not supported");
      const std::string memo = ref + "@" + std::to_string(depth);  // a definition used many times
      if (const auto it = compiled_refs_.find(memo); it != compiled_refs_.end()) return it->second;
      refs_.push_back(ref);
      const Symbol out = schema(resolve(ref, where), ref, depth);
      refs_.pop_back();
      return compiled_refs_[memo] = out;
    }
    if (s.contains("const")) return literal(s["const"]);
    if (s.contains("enum")) {
      if (!s["enum"].is_array() || s["enum"].empty()) fail(where, "enum must be a non-empty array");
      std::vector<Sequence> alts;
      for (const auto& v : s["enum"]) alts.push_back(b_.literal(v.dump()));
      return b_.rule(alts);
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      if (!s[key].is_array() || s[key].empty()) fail(where, std::string(key) + " must be a non-empty array");
      for (const char* other : {"type", "properties", "items"})
        if (s.contains(other)) fail(where, std::string(key) + " beside '" + other + "' is not supported");
      std::vector<Sequence> alts;
      for (size_t i = 0; i < s[key].size(); ++i)
        alts.push_back({schema(s[key][i], where + "/" + key + "/" + std::to_string(i), depth)});
      return b_.rule(alts);
    }
    if (!s.contains("type")) {
      if (s.contains("properties") || s.contains("additionalProperties")) return object(s, where, depth);
      if (s.contains("items")) return array(s, where, depth);
      return any_value(depth);
    }
    if (s["type"].is_array()) {
      if (s["type"].empty()) fail(where, "type must name at least one type");
      std::vector<Sequence> alts;
      for (const auto& t : s["type"]) alts.push_back({typed(s, t, where, depth)});
      return b_.rule(alts);
    }
    return typed(s, s["type"], where, depth);
  }

  Symbol typed(const json& s, const json& type, const std::string& where, int depth) {
    if (!type.is_string()) fail(where, "type must be a string or a list of strings");
    const std::string t = type.get<std::string>();
    if (t == "object") return object(s, where, depth);
    if (t == "array") return array(s, where, depth);
    if (t == "string") return s.contains("format") ? formatted(s["format"], where) : string_;
    if (t == "integer") return integer_;
    if (t == "number") return number_;
    if (t == "boolean") return b_.rule({b_.literal("true"), b_.literal("false")});
    if (t == "null") return b_.rule({b_.literal("null")});
    fail(where, "unknown type '" + t + "'");
  }

  Symbol object(const json& s, const std::string& where, int depth) {
    const json* props = s.contains("properties") ? &s["properties"] : nullptr;
    if (props && !props->is_object()) fail(where, "properties must be an object");
    const json additional = s.value("additionalProperties", json(true));
    if (!props || props->empty()) {
      if (additional.is_boolean() && !additional.get<bool>()) return b_.rule({{b_.byte('{'), ws_, b_.byte('}')}});
      return map_of(additional.is_boolean() ? any_value(depth + 1)
                                            : schema(additional, where + "/additionalProperties", depth + 1));
    }
    if (!additional.is_boolean()) fail(where, "additionalProperties as a schema beside properties is not supported");
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) fail(where, "required must be an array of names");
      for (const auto& r : s["required"]) {
        if (!r.is_string() || !props->contains(r.get<std::string>()))
          fail(where, "required names " + r.dump() + ", which is not among the properties");
        required.insert(r.get<std::string>());
      }
    }
    // Each property as `"key" ws : ws value ws`, in the given order.
    std::vector<std::pair<Symbol, bool>> kvs;
    for (const auto& [key, sub] : props->items()) {
      Sequence kv = b_.literal(json(key).dump());
      kv.insert(kv.end(), {ws_, b_.byte(':'), ws_, schema(sub, where + "/properties/" + key, depth + 1), ws_});
      kvs.emplace_back(b_.rule({kv}), required.count(key) > 0);
    }
    // rest[i][first]: properties i.. where `first` says none was written yet (no comma before).
    std::vector<std::array<Symbol, 2>> rest(kvs.size() + 1);
    rest[kvs.size()] = {b_.rule({{}}), b_.rule({{}})};
    for (size_t i = kvs.size(); i-- > 0;) {
      for (int first = 0; first < 2; ++first) {
        Sequence with = first ? Sequence{} : Sequence{b_.byte(','), ws_};
        with.insert(with.end(), {kvs[i].first, rest[i + 1][0]});
        std::vector<Sequence> alts = {with};
        if (!kvs[i].second) alts.push_back({rest[i + 1][first]});
        rest[i][first] = b_.rule(alts);
      }
    }
    return b_.rule({{b_.byte('{'), ws_, rest[0][1], b_.byte('}')}});
  }

  Symbol array(const json& s, const std::string& where, int depth) {
    const auto bound = [&](const char* key, int fallback) {
      if (!s.contains(key)) return fallback;
      if (!s[key].is_number_integer() || s[key].get<int64_t>() < 0 || s[key].get<int64_t>() > 100000)
        fail(where, std::string(key) + " must be an integer in [0, 100000]");
      return static_cast<int>(s[key].get<int64_t>());
    };
    const int min = bound("minItems", 0), max = bound("maxItems", -1);
    if (max >= 0 && max < min) fail(where, "maxItems is below minItems");
    if (min > kMaxItemsSpan || (max >= 0 && max - min > kMaxItemsSpan))
      fail(where, "minItems and maxItems - minItems above " + std::to_string(kMaxItemsSpan) + " are not supported");
    const Symbol item = s.contains("items") ? schema(s["items"], where + "/items", depth + 1) : any_value(depth + 1);
    return list_of(item, min, max);
  }

  const json& root_;
  GrammarBuilder b_;
  Symbol ws_, string_, integer_, number_;
  std::map<int, Symbol> any_;
  std::vector<std::string> refs_;  // the $refs being expanded (recursion check)
  std::map<std::string, Symbol> compiled_refs_;  // "$ref@depth" -> its rule
};

}  // namespace

std::shared_ptr<const Grammar> compile_json_schema(std::string_view schema_text, std::string_view prefix,
                                                   std::string_view suffix) {
  const json schema = json::parse(schema_text, nullptr, false);
  if (schema.is_discarded()) throw SchemaError("response schema: not valid JSON");
  return std::make_shared<const Grammar>(Compiler(schema).compile(prefix, suffix));
}

}  // namespace pio
