#include <boost/test/unit_test.hpp>

#include "model/tokenizer/stream_detokenizer.h"
#include "model/tokenizer/utf8.h"
#include "tests/tokenizer/qwen_fixture.h"

using namespace pio;
using pio::test::encode_goldens;
using pio::test::qwen_tokenizer;

BOOST_AUTO_TEST_SUITE(stream_detokenizer)

BOOST_AUTO_TEST_CASE(streaming_every_golden_equals_one_shot_decode) {
  for (std::size_t i = 0; i < encode_goldens().size(); ++i) {
    const auto& g = encode_goldens()[i];
    StreamDetokenizer stream(qwen_tokenizer());
    std::string streamed;
    bool chunks_whole = true;
    for (const std::int32_t id : g.ids) {
      const std::string chunk = stream.push(id);
      chunks_whole = chunks_whole && utf8::is_valid(chunk);
      streamed += chunk;
    }
    streamed += stream.finish();
    BOOST_TEST_CONTEXT("golden " << i) {
      BOOST_TEST(chunks_whole);
      BOOST_TEST(streamed == qwen_tokenizer().decode(g.ids));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_character_split_over_tokens_comes_out_whole) {
  // U+1F9A9 is not one token in the Qwen vocabulary: its bytes arrive in pieces.
  const auto ids = qwen_tokenizer().encode("\xF0\x9F\xA6\xA9");
  BOOST_TEST_REQUIRE(ids.size() > 1u);
  StreamDetokenizer stream(qwen_tokenizer());
  for (std::size_t i = 0; i + 1 < ids.size(); ++i) BOOST_TEST(stream.push(ids[i]).empty());
  BOOST_TEST(stream.push(ids.back()) == "\xF0\x9F\xA6\xA9");
  BOOST_TEST(stream.finish().empty());
}

BOOST_AUTO_TEST_CASE(an_unfinished_character_is_flushed_as_replacement) {
  const auto ids = qwen_tokenizer().encode("\xF0\x9F\xA6\xA9");
  StreamDetokenizer stream(qwen_tokenizer());
  BOOST_TEST(stream.push(ids[0]).empty());
  BOOST_TEST(stream.finish() == "\xEF\xBF\xBD");
}

BOOST_AUTO_TEST_SUITE_END()
