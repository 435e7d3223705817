// The Qwen3 byte-level BPE tokenizer against the committed goldens of the npm reference.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "model/errors.h"
#include "tests/tokenizer/qwen_fixture.h"

using namespace pio;
using pio::test::encode_goldens;
using pio::test::qwen_tokenizer;

BOOST_AUTO_TEST_SUITE(bpe_goldens)

BOOST_AUTO_TEST_CASE(corpus_is_large_and_varied) {
  const auto& goldens = encode_goldens();
  BOOST_TEST(goldens.size() >= 500u);
  BOOST_TEST(std::count_if(goldens.begin(), goldens.end(),
                           [](const auto& g) { return !g.valid_utf8; }) >= 20);
}

BOOST_AUTO_TEST_CASE(encode_matches_reference_ids) {
  const auto& goldens = encode_goldens();
  for (std::size_t i = 0; i < goldens.size(); ++i) {
    BOOST_TEST_CONTEXT("golden " << i << ": " << nlohmann::json(goldens[i].nfc).dump()) {
      BOOST_TEST(qwen_tokenizer().encode(goldens[i].input) == goldens[i].ids,
                 boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(decode_matches_reference_and_round_trips_to_nfc) {
  for (std::size_t i = 0; i < encode_goldens().size(); ++i) {
    const auto& g = encode_goldens()[i];
    BOOST_TEST_CONTEXT("golden " << i) {
      BOOST_TEST(qwen_tokenizer().decode(g.ids) == g.decoded);
      if (g.valid_utf8) BOOST_TEST(qwen_tokenizer().decode(qwen_tokenizer().encode(g.input)) == g.nfc);
    }
  }
}

BOOST_AUTO_TEST_CASE(batch_encode_on_threads_equals_one_by_one) {
  std::vector<std::string> texts;
  for (const auto& g : encode_goldens()) texts.push_back(g.input);
  const auto batch = qwen_tokenizer().encode_batch(texts, 4);
  BOOST_TEST_REQUIRE(batch.size() == texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    BOOST_TEST_CONTEXT("text " << i) { BOOST_TEST(batch[i] == encode_goldens()[i].ids); }
  }
}

BOOST_AUTO_TEST_CASE(qwen_special_tokens_and_sizes) {
  const Tokenizer& t = qwen_tokenizer();
  BOOST_TEST(t.token_id("<|im_start|>").value() == 151644);
  BOOST_TEST(t.token_id("<|image_pad|>").value() == 151655);
  BOOST_TEST(t.token_id("<|vision_start|>").value() == 151652);
  BOOST_TEST(t.eos_id().value() == 151645);
  BOOST_TEST(t.vocab_size() == 151669);
  BOOST_TEST(!t.token_id("<|no_such_token|>").has_value());
}

BOOST_AUTO_TEST_CASE(added_tokens_are_plain_text_when_parsing_is_off) {
  const Tokenizer& t = qwen_tokenizer();
  const std::string text = "a<|im_end|>b<|image_pad|>";
  const auto parsed = t.encode(text, true);
  const auto plain = t.encode(text, false);
  BOOST_TEST(std::count(parsed.begin(), parsed.end(), 151645) == 1);
  BOOST_TEST(std::none_of(plain.begin(), plain.end(), [](std::int32_t id) { return id >= 151643; }));
  BOOST_TEST(t.decode(plain) == text);
}

BOOST_AUTO_TEST_CASE(very_long_whitespace_runs_encode) {
  const std::string text = "x" + std::string(200000, ' ') + "y\n" + std::string(50000, '\n');
  BOOST_TEST(qwen_tokenizer().decode(qwen_tokenizer().encode(text)) == text);
}

BOOST_AUTO_TEST_CASE(unknown_ids_are_an_error) {
  BOOST_CHECK_THROW(qwen_tokenizer().decode(std::vector<std::int32_t>{5, 999999}), ModelError);
  BOOST_CHECK_THROW(qwen_tokenizer().decode(std::vector<std::int32_t>{-1}), ModelError);
}

BOOST_AUTO_TEST_CASE(missing_files_are_an_error) {
  BOOST_CHECK_THROW(load_tokenizer("/nonexistent/model"), ModelError);
}

BOOST_AUTO_TEST_SUITE_END()
