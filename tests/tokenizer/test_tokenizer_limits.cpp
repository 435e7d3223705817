// tokenizer.json with ids and merges no real vocabulary has: each refused with a ModelError
// that names the problem, before any table is sized by it.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "model/errors.h"
#include "model/tokenizer/bpe_tokenizer.h"
#include "model/tokenizer/byte_level.h"
#include "tests/support/temp_dir.h"

using namespace pio;
using nlohmann::json;

namespace {

// A minimal byte-level BPE tokenizer.json: the 256 byte tokens (ids 0..255), "ab" (256) from
// the merge "a b", and one added token <|end|> (257).
json small_spec() {
  const ByteLevelMap bytes;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[bytes.char_of(static_cast<unsigned char>(b))] = b;
  vocab["ab"] = 256;
  return {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b"}}}},
          {"added_tokens", {{{"id", 257}, {"content", "<|end|>"}, {"special", true}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "Split"}, {"pattern", {{"Regex", "\\s+|[^\\s]+"}}}, {"behavior", "Isolated"}, {"invert", false}}}};
}

std::unique_ptr<BpeTokenizer> load(const json& spec) {
  ::test::TempDir dir("tokenizer");
  std::ofstream(dir.path() / "tokenizer.json") << spec.dump();
  return BpeTokenizer::load(dir.path() / "tokenizer.json", dir.path() / "tokenizer_config.json");
}

std::string error_of(const json& spec) {
  try {
    load(spec);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "(loaded)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tokenizer_limits)

BOOST_AUTO_TEST_CASE(the_small_tokenizer_loads_and_merges) {
  const auto t = load(small_spec());
  BOOST_TEST(t->encode("ab<|end|>a", true) == (std::vector<int32_t>{256, 257, 'a'}), boost::test_tools::per_element());
  BOOST_TEST(t->vocab_size() == 258);
}

// 2^31 - 1 overflowed "largest id + 1"; 2^31 + 5 wrapped to 5 in a plain int32 read; both
// must be refused with the allowed range, as must negative and non-integer ids.
BOOST_AUTO_TEST_CASE(vocabulary_ids_out_of_range_are_refused) {
  for (const json& id : {json(2147483647), json(int64_t{2147483648} + 5), json(-1), json(int64_t{1} << 24)}) {
    json spec = small_spec();
    spec["model"]["vocab"]["ab"] = id;
    BOOST_TEST_CONTEXT("id " << id.dump()) {
      BOOST_TEST(error_of(spec).find("the id of vocabulary entry 'ab' = " + id.dump() +
                                     " is outside the allowed range [0, 16777215]") != std::string::npos,
                 error_of(spec));
    }
  }
  json spec = small_spec();
  spec["model"]["vocab"]["ab"] = 256.5;
  BOOST_TEST(error_of(spec).find("'ab' has the wrong type: expected an integer") != std::string::npos);
}

// An id inside 2^24 but far past the entry count would size a mostly empty table.
BOOST_AUTO_TEST_CASE(sparse_vocabulary_ids_are_refused) {
  json spec = small_spec();
  spec["model"]["vocab"]["ab"] = 16777215;
  BOOST_TEST(error_of(spec).find("vocabulary id 16777215 is too sparse for 257 entries") != std::string::npos,
             error_of(spec));
  spec["model"]["vocab"]["ab"] = 513;  // the table may hold up to twice the 257 entries
  BOOST_TEST(error_of(spec) == "(loaded)");
}

BOOST_AUTO_TEST_CASE(added_token_ids_out_of_range_are_refused) {
  for (const json& id : {json(2147483647), json(-3), json(int64_t{1} << 40)}) {
    json spec = small_spec();
    spec["added_tokens"][0]["id"] = id;
    BOOST_TEST_CONTEXT("id " << id.dump()) {
      BOOST_TEST(error_of(spec).find("added_tokens[0].id = " + id.dump() + " is outside the allowed range") !=
                     std::string::npos,
                 error_of(spec));
    }
  }
}

BOOST_AUTO_TEST_CASE(merges_of_unknown_tokens_are_refused) {
  json spec = small_spec();
  spec["model"]["merges"] = {"a q\xC4\xA0"};  // "qĠ" is no token
  BOOST_TEST(error_of(spec).find("uses unknown tokens") != std::string::npos, error_of(spec));
  spec["model"]["merges"] = {"b a"};  // both known, but "ba" is not in the vocabulary
  BOOST_TEST(error_of(spec).find("merge 'b a' uses unknown tokens") != std::string::npos, error_of(spec));
  spec["model"]["merges"] = {"ab"};
  BOOST_TEST(error_of(spec).find("malformed merge 'ab'") != std::string::npos, error_of(spec));
  spec["model"]["merges"] = {json::array({"a", 7})};
  BOOST_TEST(error_of(spec).find("tokenizer: ") == 0u, error_of(spec));
}

BOOST_AUTO_TEST_CASE(vocabulary_of_the_wrong_shape_is_refused) {
  json spec = small_spec();
  spec["model"]["vocab"] = json::array({"a", "b"});
  BOOST_TEST(error_of(spec).find("model.vocab must be an object") != std::string::npos, error_of(spec));
}

BOOST_AUTO_TEST_SUITE_END()
