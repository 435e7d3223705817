// Structured outputs' grammar: JSON schemas compiled to byte grammars (serving/json_schema.h)
// accept the documents the schema allows byte by byte and reject others at their first wrong
// byte; refused schemas name what is refused; token masks (serving/grammar_matcher.h) equal a
// brute-force check of every token, over a small vocabulary and over the real Qwen one.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <random>

#include <nlohmann/json.hpp>

#include "model/tokenizer/tokenizer.h"
#include "serving/grammar_matcher.h"
#include "serving/json_schema.h"

using namespace pio;

namespace {

// The index of the first byte of `doc` the schema's grammar rejects; -1 when every byte is
// accepted and the document is complete, -2 when accepted but incomplete.
long first_rejected(const std::string& schema, const std::string& doc) {
  GrammarMatcher m(compile_json_schema(schema));
  for (size_t i = 0; i < doc.size(); ++i)
    if (!m.advance(doc.substr(i, 1))) return static_cast<long>(i);
  return m.accepting() ? -1 : -2;
}

void check_accepts(const std::string& schema, const std::string& doc) {
  BOOST_TEST_INFO("schema " << schema << " doc " << doc);
  BOOST_TEST(first_rejected(schema, doc) == -1);
}

// `doc` is rejected exactly at the byte where `wrong` (a marker) points: the byte after the
// prefix doc[0, at).
void check_rejects_at(const std::string& schema, const std::string& doc, long at) {
  BOOST_TEST_INFO("schema " << schema << " doc " << doc);
  BOOST_TEST(first_rejected(schema, doc) == at);
}

const char* kPerson = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string"},
    "age": {"type": "integer"},
    "email": {"type": "string"},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}
  },
  "required": ["name", "age"],
  "additionalProperties": false
})";

}  // namespace

BOOST_AUTO_TEST_CASE(objects_keep_the_property_order_and_required_ones) {
  check_accepts(kPerson, R"({"name":"Ann","age":31})");
  check_accepts(kPerson, R"({"name":"Ann","age":31,"email":"a@b.c"})");
  check_accepts(kPerson, R"({"name":"Ann","age":31,"tags":["x","y"]})");
  check_accepts(kPerson, "{ \"name\" : \"Ann\",\n  \"age\": -7 ,\"email\":\"\",\"tags\":[ ]}");
  check_rejects_at(kPerson, R"({"age":31,"name":"Ann"})", 2);   // order: name first
  check_rejects_at(kPerson, R"({"name":"Ann"})", 13);            // age is required
  check_rejects_at(kPerson, R"({"name":"Ann","age":31,"x":1})", 24);  // no other property
  check_rejects_at(kPerson, R"({"name":"Ann","age":3.5})", 21);  // an integer
  check_rejects_at(kPerson, R"({"name":"Ann","age":31,"tags":["a","b","c"]})", 38);  // maxItems 2
  check_rejects_at(kPerson, R"({"name":"Ann","age":31}  )", 23);  // nothing after the value
  check_rejects_at(kPerson, R"({"name":"Ann","age":01})", 21);   // no leading zero
}

BOOST_AUTO_TEST_CASE(json_object_mode_takes_any_object_and_nothing_else) {
  const std::string any = R"({"type":"object"})";
  check_accepts(any, R"({})");
  check_accepts(any, R"({"a":[1,2.5e-3,{"b":null}],"c":true,"d":"\u00e9\n","e":false})");
  check_rejects_at(any, R"([1])", 0);
  check_rejects_at(any, R"("x")", 0);
  check_rejects_at(any, R"({"a":tru})", 8);
  check_rejects_at(any, R"({"a":1,})", 7);
  check_rejects_at(any, R"({a:1})", 1);
  // Nesting is bounded: kJsonMaxDepth containers, the object included, no deeper.
  std::string deep = R"({"a":)";
  for (int i = 1; i < kJsonMaxDepth; ++i) deep += "[";
  check_rejects_at(any, deep + "[", static_cast<long>(deep.size()));
}

BOOST_AUTO_TEST_CASE(strings_are_well_formed_utf8_with_json_escapes) {
  const std::string s = R"({"type":"string"})";
  check_accepts(s, "\"plain\"");
  check_accepts(s, "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00aF\"");
  check_accepts(s, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  check_rejects_at(s, "\"a\nb\"", 2);           // a raw control byte
  check_rejects_at(s, "\"\\x\"", 2);            // an unknown escape
  check_rejects_at(s, "\"\\u12g4\"", 5);
  check_rejects_at(s, "\"\xc0\xaf\"", 1);       // overlong
  check_rejects_at(s, "\"\xed\xa0\x80\"", 2);   // a surrogate
  check_rejects_at(s, "\"\xf4\x90\x80\x80\"", 2);  // past U+10FFFF
  check_rejects_at(s, "\"\xc3\"", 2);           // a cut character
}

BOOST_AUTO_TEST_CASE(string_formats_date_time_and_uuid) {
  const std::string date = R"({"type":"string","format":"date"})", time = R"({"type":"string","format":"time"})";
  const std::string stamp = R"({"type":"string","format":"date-time"})", uuid = R"({"type":"string","format":"uuid"})";
  check_accepts(date, "\"2026-12-06\"");
  check_rejects_at(date, "\"2026-13-06\"", 7);
  check_rejects_at(date, "\"2026-12-32\"", 10);
  check_rejects_at(date, "\"26-12-06\"", 3);
  check_accepts(time, "\"23:59:07Z\"");
  check_accepts(time, "\"09:05:00.123456+05:30\"");
  check_rejects_at(time, "\"24:00:00Z\"", 2);
  check_rejects_at(time, "\"10:00:00\"", 9);  // an offset is required
  check_accepts(stamp, "\"2026-12-06T10:00:00.5-01:00\"");
  check_rejects_at(stamp, "\"2026-12-06 10:00:00Z\"", 11);
  check_accepts(uuid, "\"123e4567-e89b-12d3-A456-426614174000\"");
  check_rejects_at(uuid, "\"123e4567e89b\"", 9);
}

BOOST_AUTO_TEST_CASE(numbers_integers_booleans_null) {
  check_accepts(R"({"type":"number"})", "-12.50e+3");
  check_accepts(R"({"type":"number"})", "0");
  check_rejects_at(R"({"type":"number"})", "1.", -2);
  check_rejects_at(R"({"type":"number"})", "+1", 0);
  check_rejects_at(R"({"type":"integer"})", "1e3", 1);
  check_rejects_at(R"({"type":"integer"})", "12345678901234567", 16);  // 16 digits at most
  check_accepts(R"({"type":"boolean"})", "false");
  check_rejects_at(R"({"type":"boolean"})", "null", 0);
  check_accepts(R"({"type":["integer","null"]})", "null");
  check_accepts(R"({"type":["integer","null"]})", "42");
}

BOOST_AUTO_TEST_CASE(enums_consts_and_alternatives) {
  const std::string color = R"({"enum":["red","green","grey",7,null]})";
  for (const char* ok : {"\"red\"", "\"green\"", "\"grey\"", "7", "null"}) check_accepts(color, ok);
  check_rejects_at(color, "\"gray\"", 3);
  check_rejects_at(color, "8", 0);
  check_accepts(R"({"const":{"k":[1,"two"]}})", R"({"k":[1,"two"]})");
  check_rejects_at(R"({"const":{"k":[1,"two"]}})", R"({"k":[1,"three"]})", 10);
  const std::string shape = R"({"anyOf":[
    {"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number"}},"required":["kind","r"]},
    {"type":"object","properties":{"kind":{"const":"square"},"side":{"type":"number"}},"required":["kind","side"]},
    {"type":"null"}]})";
  check_accepts(shape, R"({"kind":"circle","r":2})");
  check_accepts(shape, R"({"kind":"square","side":3})");
  check_accepts(shape, "null");
  check_rejects_at(shape, R"({"kind":"circle","side":3})", 18);
  check_accepts(R"({"oneOf":[{"type":"integer"},{"type":"string"}]})", "\"x\"");
}

BOOST_AUTO_TEST_CASE(arrays_with_bounds_and_refs_into_defs) {
  const std::string list = R"({"type":"array","items":{"$ref":"#/$defs/point"},"minItems":1,"maxItems":3,
    "$defs":{"point":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"integer"}},
                      "required":["x","y"],"additionalProperties":false}}})";
  check_accepts(list, R"([{"x":1,"y":2}])");
  check_accepts(list, R"([{"x":1,"y":2}, {"x":3,"y":4},{"x":5,"y":6}])");
  check_rejects_at(list, R"([])", 1);
  check_rejects_at(list, R"([{"x":1,"y":2},{"x":3,"y":4},{"x":5,"y":6},)", 42);
  check_rejects_at(list, R"([{"y":2}])", 3);
  const std::string defs = R"({"type":"object","properties":{"a":{"$ref":"#/definitions/n"}},"required":["a"],
    "definitions":{"n":{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2}}})";
  check_accepts(defs, R"({"a":[1,2]})");
  check_rejects_at(defs, R"({"a":[1]})", 7);
  // No properties and no others: the empty object only.
  const std::string empty = R"({"type":"object","properties":{},"additionalProperties":false})";
  check_accepts(empty, "{}");
  check_accepts(empty, "{ }");
  check_rejects_at(empty, "{\"a\":1}", 1);
  check_rejects_at(empty, "}", 0);
  // Maps: additionalProperties as a schema, no properties.
  check_accepts(R"({"type":"object","additionalProperties":{"type":"integer"}})", R"({"a":1,"b":2})");
  check_rejects_at(R"({"type":"object","additionalProperties":{"type":"integer"}})", R"({"a":"x"})", 5);
}

BOOST_AUTO_TEST_CASE(a_prefix_and_a_suffix_wrap_the_value) {
  const auto grammar = compile_json_schema(R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]})",
                                           "<tool_call>\n", "\n</tool_call>");
  const auto rejected_at = [&](const std::string& doc) {
    GrammarMatcher m(grammar);
    for (size_t i = 0; i < doc.size(); ++i)
      if (!m.advance(doc.substr(i, 1))) return static_cast<long>(i);
    return m.finished() ? -1L : -2L;
  };
  BOOST_TEST(rejected_at("<tool_call>\n{\"a\": 1}\n</tool_call>") == -1);
  BOOST_TEST(rejected_at("<tool_call>\n {\"a\":1}\n</tool_call>") == -1);
  BOOST_TEST(rejected_at("{\"a\":1}") == 0);
  BOOST_TEST(rejected_at("<tool_call>\n{\"a\":1} \n</tool_call>") == 19);  // no whitespace before the suffix
  BOOST_TEST(rejected_at("<tool_call>\n{\"a\":1}\n</tool_call") == -2);
}

BOOST_AUTO_TEST_CASE(a_definition_used_many_times_is_compiled_once) {
  // d0 uses d1 twice, d1 uses d2 twice... : 2^30 copies, or 2^30 parse stacks, without sharing.
  nlohmann::json defs;
  for (int i = 0; i < 30; ++i) {
    const std::string next = "#/$defs/d" + std::to_string(i + 1);
    defs["d" + std::to_string(i)] = {{"anyOf", {{{"$ref", next}}, {{"$ref", next}}}}};
  }
  defs["d30"] = {{"type", "integer"}};
  const nlohmann::json schema = {{"$ref", "#/$defs/d0"}, {"$defs", defs}};
  const auto t0 = std::chrono::steady_clock::now();
  const auto grammar = compile_json_schema(schema.dump());
  BOOST_TEST(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 1.0);
  BOOST_TEST(grammar->elements.size() < 10000u);
  check_accepts(schema.dump(), "7");
  check_rejects_at(schema.dump(), "[", 0);
}

BOOST_AUTO_TEST_CASE(whitespace_is_bounded) {
  const std::string any = R"({"type":"object"})";
  check_accepts(any, "{" + std::string(kJsonWhitespace, ' ') + "}");
  check_rejects_at(any, "{" + std::string(kJsonWhitespace + 1, ' ') + "}", kJsonWhitespace + 1);
}

BOOST_AUTO_TEST_CASE(unsupported_schemas_are_refused_by_name) {
  const auto refused = [](const std::string& schema, const std::string& words) {
    BOOST_TEST_INFO("schema " << schema);
    try {
      compile_json_schema(schema);
      BOOST_ERROR("accepted");
    } catch (const SchemaError& e) {
      BOOST_TEST(std::string(e.what()).find(words) != std::string::npos, e.what());
    }
  };
  refused(R"({"type":"string","format":"email"})", "format 'email' is not supported");
  refused(R"({"type":"string","pattern":"a+"})", "keyword 'pattern'");
  refused(R"({"type":"object","properties":{"n":{"type":"integer","minimum":0}}})", "#/properties/n: keyword 'minimum'");
  refused(R"({"allOf":[{}]})", "keyword 'allOf'");
  refused(R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"next":{"$ref":"#/$defs/node"}}}}})",
          "recursive");
  refused(R"({"$ref":"#/$defs/missing"})", "names no definition");
  refused(R"({"$ref":"http://example.com/s.json"})", "not supported");
  refused(R"({"type":"date"})", "unknown type 'date'");
  refused(R"({"type":"object","properties":{"a":{}},"required":["b"]})", "\"b\"");
  refused(R"({"type":"array","maxItems":1000})", "above 64");
  refused("{not json", "not valid JSON");
  refused(R"(false)", "allows nothing");
}

namespace {

// Brute force: the ids whose bytes a copy of the matcher accepts.
std::vector<int32_t> allowed_by_brute_force(const GrammarMatcher& m, const TokenVocabulary& v) {
  std::vector<int32_t> out;
  for (int32_t id = 0; id < v.size(); ++id) {
    if (v.bytes(id).empty()) continue;
    GrammarMatcher copy = m;
    if (copy.advance(v.bytes(id))) out.push_back(id);
  }
  return out;
}

std::vector<int32_t> allowed_by_mask(const TokenMask& mask, const TokenVocabulary& v) {
  std::vector<int32_t> out;
  for (int32_t id = 0; id < v.size(); ++id)
    if (mask.allows(id)) out.push_back(id);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(masks_over_a_small_vocabulary) {
  // Id 3 is "special" (no bytes): never allowed.
  const auto vocab = std::make_shared<const TokenVocabulary>(std::vector<std::string>{
      "{", "}", "\"", "", "name", "\":", " ", "{\"", "\"}", "1", "12", "a", "\xc3", "\xa9", "\"name\":", ",", "tru", "true"});
  GrammarMasks masks(compile_json_schema(
                         R"({"type":"object","properties":{"name":{"type":"string"},"ok":{"type":"boolean"}},"required":["name"]})"),
                     vocab);
  GrammarMatcher m = masks.start();
  const auto names = [&](const TokenMask& mask) {
    std::vector<std::string> out;
    for (int32_t id : allowed_by_mask(mask, *vocab)) out.emplace_back(vocab->bytes(id));
    return out;
  };
  BOOST_TEST(names(masks.mask(m)) == (std::vector<std::string>{"{", " ", "{\""}), boost::test_tools::per_element());
  BOOST_TEST(!masks.mask(m).accepting);
  BOOST_REQUIRE(m.advance("{\"name\":\"a"));
  // Inside the string: the mask is what a brute-force check of every token finds.
  const std::vector<int32_t> brute = allowed_by_brute_force(m, *vocab);
  BOOST_TEST(allowed_by_mask(masks.mask(m), *vocab) == brute, boost::test_tools::per_element());
  BOOST_TEST(!masks.mask(m).allows(13));  // a continuation byte alone
  BOOST_TEST(masks.mask(m).allows(12));   // a lead byte: its continuation may follow
  BOOST_REQUIRE(m.advance("\"}"));
  BOOST_TEST(m.finished());
  BOOST_TEST(allowed_by_mask(masks.mask(m), *vocab).empty());
  BOOST_TEST(masks.mask(m).accepting);
}

BOOST_AUTO_TEST_CASE(masks_equal_brute_force_along_random_documents) {
  // Random walks: at each step pick an allowed token at random, check the mask against brute
  // force, until the document is complete.
  std::vector<std::string> pieces = {"{", "}", "[", "]", "\"", ":", ",", " ", "\n", "\":", "\",\"", "{\"", "\"}",
                                     "0", "1", "-", ".", "e", "5", "25", "true", "false", "null", "tr", "ue", "nu",
                                     "name", "age", "tags", "x", "y", "kind", "circle", "square", "r", "side", "\\",
                                     "n", "u", "00e9", "\xc3", "\xa9", "\xc3\xa9", "\"name\":\"", "\"age\":", "], "};
  for (char c = 0x20; c < 0x7f; ++c) pieces.emplace_back(1, c);  // no dead ends, as in real vocabularies
  const auto vocab = std::make_shared<const TokenVocabulary>(pieces);
  const std::vector<std::string> schemas = {
      kPerson, R"({"type":"object"})",
      R"({"anyOf":[{"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number"}},"required":["kind","r"]},
                   {"type":"array","items":{"enum":["x","y",1]},"maxItems":4}]})",
      R"({"type":"array","items":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"number"}}},"minItems":1})"};
  std::mt19937 rng(7);
  int completed = 0;
  for (const auto& schema : schemas) {
    GrammarMasks masks(compile_json_schema(schema), vocab);
    for (int walk = 0; walk < 20; ++walk) {
      GrammarMatcher m = masks.start();
      std::string doc;
      for (int step = 0; step < 60 && !m.finished(); ++step) {
        const TokenMask& mask = masks.mask(m);
        const std::vector<int32_t> allowed = allowed_by_mask(mask, *vocab);
        BOOST_TEST_INFO("schema " << schema << " after " << doc);
        BOOST_REQUIRE(allowed == allowed_by_brute_force(m, *vocab));
        BOOST_REQUIRE(!allowed.empty() || mask.accepting);
        if (allowed.empty() || (mask.accepting && rng() % 4 == 0)) break;
        const int32_t id = allowed[rng() % allowed.size()];
        BOOST_REQUIRE(m.advance(vocab->bytes(id)));
        doc += vocab->bytes(id);
      }
      if (m.accepting()) {
        ++completed;
        BOOST_TEST_INFO("schema " << schema << " doc " << doc);
        BOOST_TEST(nlohmann::json::accept(doc));
      }
    }
  }
  BOOST_TEST(completed > 5);
}

#ifdef PIO_QWEN_TOKENIZER_DIR
BOOST_AUTO_TEST_CASE(masks_over_the_qwen_vocabulary) {
  const auto tokenizer = load_tokenizer(PIO_QWEN_TOKENIZER_DIR);
  auto t0 = std::chrono::steady_clock::now();
  const auto vocab = TokenVocabulary::from_tokenizer(*tokenizer, tokenizer->vocab_size());
  const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  GrammarMasks masks(compile_json_schema(kPerson), vocab);
  GrammarMatcher m = masks.start();
  const auto im_end = tokenizer->token_id("<|im_end|>");
  BOOST_REQUIRE(im_end);
  // States at the start, inside a key, inside a string value, inside a number, after a value.
  for (const char* piece : {"", "{\"na", "me\": \"Ann", " Lee", "\", \"age\": 4", "2"}) {
    BOOST_REQUIRE(m.advance(piece));
    t0 = std::chrono::steady_clock::now();
    const TokenMask& mask = masks.mask(m);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const auto allowed = allowed_by_mask(mask, *vocab);
    BOOST_TEST_MESSAGE("mask after '" << piece << "': " << allowed.size() << " ids allowed, " << ms << " ms");
    BOOST_TEST(allowed == allowed_by_brute_force(m, *vocab));
    BOOST_TEST(!mask.allows(*im_end));  // special tokens have no bytes in the vocabulary
  }
  // The same state again comes from the cache.
  const int64_t computed = masks.computed();
  masks.mask(m);
  BOOST_TEST(masks.computed() == computed);
  // A document as the tokenizer splits it: each of its tokens is allowed by the mask before it.
  // Timed with an empty cache (every state new) and again with the cache warm.
  const std::string doc =
      R"({"name": "Zoë Ämberg-Łukasiewicz", "age": 42, "email": "zoe@example.com", "tags": ["東京", "a \"quoted\" tag"]})";
  const std::vector<int32_t> ids = tokenizer->encode(doc, false);
  for (const char* pass : {"cold", "warm"}) {
    GrammarMasks& g = masks;
    if (std::string(pass) == "cold") g = GrammarMasks(compile_json_schema(kPerson), vocab);
    GrammarMatcher walk = g.start();
    double total = 0, worst = 0;
    for (int32_t id : ids) {
      t0 = std::chrono::steady_clock::now();
      const bool allowed = g.mask(walk).allows(id);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      total += ms;
      worst = std::max(worst, ms);
      BOOST_REQUIRE_MESSAGE(allowed, "token " << id << " '" << vocab->bytes(id) << "' refused");
      BOOST_REQUIRE(walk.advance(vocab->bytes(id)));
    }
    BOOST_TEST(walk.finished());
    BOOST_TEST_MESSAGE(pass << " cache: " << ids.size() << " tokens, mask " << total / static_cast<double>(ids.size())
                            << " ms per token on average, " << worst << " ms at most");
  }
  BOOST_TEST_MESSAGE("vocabulary of " << vocab->size() << " ids, " << vocab->all().nodes.size() << " trie nodes, built in "
                                      << build_ms << " ms");
}
#endif
