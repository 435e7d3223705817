// The SentencePiece backend: a small model trained here with the library's trainer.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <sentencepiece_trainer.h>

#include "model/tokenizer/stream_detokenizer.h"
#include "model/tokenizer/tokenizer.h"

using namespace pio;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kSentences = {
    "the cat sat on the mat", "a quick brown fox jumps over the lazy dog",
    "tokenizers turn text into numbers", "streaming output must never break characters",
    "caf\xC3\xA9 na\xC3\xAFve r\xC3\xA9sum\xC3\xA9", "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C",
};

// A model directory holding only tokenizer.model, trained once for the suite.
struct TrainedModel {
  fs::path dir = fs::temp_directory_path() / ("pio_sp_test_" + std::to_string(::getpid()));
  TrainedModel() {
    fs::create_directories(dir);
    const fs::path corpus = dir / "corpus.txt";
    std::ofstream out(corpus);
    for (int i = 0; i < 200; ++i) {
      for (const auto& s : kSentences) out << s << " " << i << "\n";
    }
    out.close();
    const auto status = sentencepiece::SentencePieceTrainer::Train(
        "--input=" + corpus.string() + " --model_prefix=" + (dir / "sp").string() +
        " --vocab_size=400 --model_type=unigram --byte_fallback=true --character_coverage=1.0"
        " --hard_vocab_limit=false --minloglevel=2");
    if (!status.ok()) throw std::runtime_error("sentencepiece training failed: " + status.ToString());
    fs::rename(dir / "sp.model", dir / "tokenizer.model");
  }
  ~TrainedModel() { fs::remove_all(dir); }
};

const Tokenizer& sp_tokenizer() {
  static const TrainedModel model;
  static const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(model.dir);
  return *tokenizer;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sentencepiece_backend)

BOOST_AUTO_TEST_CASE(round_trips_text) {
  for (const auto& s : kSentences) {
    BOOST_TEST_CONTEXT(s) { BOOST_TEST(sp_tokenizer().decode(sp_tokenizer().encode(s)) == s); }
  }
  // Characters never seen in training come back through byte fallback.
  const std::string unseen = "zebra \xF0\x9F\x98\x80 \xD0\x96";
  BOOST_TEST(sp_tokenizer().decode(sp_tokenizer().encode(unseen)) == unseen);
}

BOOST_AUTO_TEST_CASE(streaming_equals_decode) {
  const auto ids = sp_tokenizer().encode("caf\xC3\xA9 \xF0\x9F\x98\x80 the cat");
  StreamDetokenizer stream(sp_tokenizer(), SpecialTokens::show);
  std::string streamed;
  for (const auto id : ids) streamed += stream.push(id);
  streamed += stream.finish();
  BOOST_TEST(streamed == sp_tokenizer().decode(ids));
}

BOOST_AUTO_TEST_CASE(control_tokens_parse_only_when_asked) {
  const std::int32_t eos = sp_tokenizer().eos_id().value();
  const auto parsed = sp_tokenizer().encode("the cat</s>", true);
  const auto plain = sp_tokenizer().encode("the cat</s>", false);
  BOOST_TEST(parsed.back() == eos);
  BOOST_TEST(std::count(plain.begin(), plain.end(), eos) == 0);
}

// Hugging Face's skip_special_tokens drops SentencePiece's control pieces (<s>, </s>) and
// <unk>, which spm itself decodes to " \u2047 ".
BOOST_AUTO_TEST_CASE(skipping_drops_control_and_unknown_pieces) {
  const Tokenizer& t = sp_tokenizer();
  const std::int32_t eos = t.eos_id().value();
  const std::int32_t unk = t.token_id("<unk>").value();
  BOOST_TEST(t.is_special(eos));
  BOOST_TEST(t.is_special(unk));
  BOOST_TEST(!t.is_special(t.encode("cat").back()));
  BOOST_TEST(!t.is_special(t.vocab_size()));
  std::vector<std::int32_t> ids = t.encode("the cat");
  ids.insert(ids.begin() + 1, unk);
  ids.push_back(eos);
  BOOST_TEST(t.decode(ids, SpecialTokens::skip) == "the cat");
  BOOST_TEST(t.decode(ids, SpecialTokens::show).find("\xE2\x81\x87") != std::string::npos);
  StreamDetokenizer stream(t, SpecialTokens::skip);
  std::string streamed;
  for (const auto id : ids) streamed += stream.push(id);
  BOOST_TEST(streamed + stream.finish() == "the cat");
}

BOOST_AUTO_TEST_SUITE_END()
