#include <boost/test/unit_test.hpp>

#include "model/errors.h"
#include "model/tokenizer/stream_detokenizer.h"
#include "model/tokenizer/utf8.h"
#include "tests/tokenizer/qwen_fixture.h"

using namespace pio;
using pio::test::encode_goldens;
using pio::test::qwen_tokenizer;

BOOST_AUTO_TEST_SUITE(stream_detokenizer)

BOOST_AUTO_TEST_CASE(streaming_every_golden_equals_one_shot_decode) {
  for (const SpecialTokens special : {SpecialTokens::show, SpecialTokens::skip}) {
    for (std::size_t i = 0; i < encode_goldens().size(); ++i) {
      const auto& g = encode_goldens()[i];
      StreamDetokenizer stream(qwen_tokenizer(), special);
      std::string streamed;
      bool chunks_whole = true;
      for (const std::int32_t id : g.ids) {
        const std::string chunk = stream.push(id);
        chunks_whole = chunks_whole && utf8::is_valid(chunk);
        streamed += chunk;
      }
      streamed += stream.finish();
      BOOST_TEST_CONTEXT("golden " << i << (special == SpecialTokens::skip ? ", skipping" : ", showing")) {
        BOOST_TEST(chunks_whole);
        BOOST_TEST(streamed == qwen_tokenizer().decode(g.ids, special));
      }
    }
  }
}

// tokenizer.json marks the chat and vision markers "special": true, and <think> and
// <tool_call> not: Hugging Face's skip_special_tokens drops exactly the former.
BOOST_AUTO_TEST_CASE(special_means_the_added_tokens_marked_special) {
  const Tokenizer& t = qwen_tokenizer();
  for (const char* token : {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|image_pad|>",
                            "<|vision_end|>", "<|video_pad|>", "<|box_start|>"}) {
    BOOST_TEST_CONTEXT(token) { BOOST_TEST(t.is_special(t.token_id(token).value())); }
  }
  for (const char* token : {"<think>", "</think>", "<tool_call>", "<|fim_prefix|>", "Hello", "!"}) {
    BOOST_TEST_CONTEXT(token) { BOOST_TEST(!t.is_special(t.token_id(token).value())); }
  }
  BOOST_TEST(!t.is_special(-1));
  BOOST_TEST(!t.is_special(t.vocab_size()));
}

BOOST_AUTO_TEST_CASE(skipping_drops_special_tokens_only) {
  const auto ids = qwen_tokenizer().encode(
      "<|im_start|>assistant\nA <|vision_start|><|image_pad|><|vision_end|>cat<think> here</think><|im_end|>\n");
  BOOST_TEST_REQUIRE(ids.size() == 14u);  // five special tokens among them
  BOOST_TEST(qwen_tokenizer().decode(ids, SpecialTokens::skip) == "assistant\nA cat<think> here</think>\n");
  StreamDetokenizer skipping(qwen_tokenizer(), SpecialTokens::skip);
  StreamDetokenizer showing(qwen_tokenizer(), SpecialTokens::show);
  std::string skipped, shown;
  for (const std::int32_t id : ids) {
    const std::string chunk = skipping.push(id);
    if (qwen_tokenizer().is_special(id)) BOOST_TEST(chunk.empty());
    skipped += chunk;
    shown += showing.push(id);
  }
  BOOST_TEST(skipped + skipping.finish() == "assistant\nA cat<think> here</think>\n");
  BOOST_TEST(shown + showing.finish() ==
             "<|im_start|>assistant\nA <|vision_start|><|image_pad|><|vision_end|>cat<think> here</think>"
             "<|im_end|>\n");
}

BOOST_AUTO_TEST_CASE(a_skipped_token_inside_a_character_leaves_it_whole) {
  // A special token arriving between the pieces of U+1F9A9 does not break the character.
  auto ids = qwen_tokenizer().encode("\xF0\x9F\xA6\xA9");
  BOOST_TEST_REQUIRE(ids.size() > 1u);
  ids.insert(ids.begin() + 1, qwen_tokenizer().token_id("<|image_pad|>").value());
  StreamDetokenizer stream(qwen_tokenizer(), SpecialTokens::skip);
  std::string out;
  for (const std::int32_t id : ids) out += stream.push(id);
  BOOST_TEST(out + stream.finish() == "\xF0\x9F\xA6\xA9");
}

BOOST_AUTO_TEST_CASE(an_id_outside_the_vocabulary_is_refused_even_when_skipping) {
  StreamDetokenizer stream(qwen_tokenizer(), SpecialTokens::skip);
  BOOST_CHECK_THROW(stream.push(qwen_tokenizer().vocab_size()), ModelError);
  BOOST_CHECK_THROW(stream.push(-1), ModelError);
}

BOOST_AUTO_TEST_CASE(a_character_split_over_tokens_comes_out_whole) {
  // U+1F9A9 is not one token in the Qwen vocabulary: its bytes arrive in pieces.
  const auto ids = qwen_tokenizer().encode("\xF0\x9F\xA6\xA9");
  BOOST_TEST_REQUIRE(ids.size() > 1u);
  StreamDetokenizer stream(qwen_tokenizer(), SpecialTokens::show);
  for (std::size_t i = 0; i + 1 < ids.size(); ++i) BOOST_TEST(stream.push(ids[i]).empty());
  BOOST_TEST(stream.push(ids.back()) == "\xF0\x9F\xA6\xA9");
  BOOST_TEST(stream.finish().empty());
}

BOOST_AUTO_TEST_CASE(an_unfinished_character_is_flushed_as_replacement) {
  const auto ids = qwen_tokenizer().encode("\xF0\x9F\xA6\xA9");
  StreamDetokenizer stream(qwen_tokenizer(), SpecialTokens::show);
  BOOST_TEST(stream.push(ids[0]).empty());
  BOOST_TEST(stream.finish() == "\xEF\xBF\xBD");
}

BOOST_AUTO_TEST_SUITE_END()
