#include <boost/test/unit_test.hpp>

#include "model/tokenizer/pretokenizer.h"
#include "model/tokenizer/utf8.h"

using namespace pio;

BOOST_AUTO_TEST_SUITE(utf8_helpers)

BOOST_AUTO_TEST_CASE(valid_text_is_recognised) {
  BOOST_TEST(utf8::is_valid("plain ascii"));
  BOOST_TEST(utf8::is_valid("\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80"));
  BOOST_TEST(!utf8::is_valid("\xC0\x80"));          // overlong
  BOOST_TEST(!utf8::is_valid("\xED\xA0\x80"));      // surrogate
  BOOST_TEST(!utf8::is_valid("\xF4\x90\x80\x80"));  // above U+10FFFF
  BOOST_TEST(!utf8::is_valid("\xE4\xB8"));          // truncated
}

BOOST_AUTO_TEST_CASE(ill_formed_sequences_become_one_replacement_per_maximal_subpart) {
  const std::string r = "\xEF\xBF\xBD";
  BOOST_TEST(utf8::sanitized("a\x80" "b") == "a" + r + "b");
  BOOST_TEST(utf8::sanitized("a\xE4\xB8" "b") == "a" + r + "b");        // one for a truncated char
  BOOST_TEST(utf8::sanitized("\xED\xA0\x80") == r + r + r);             // surrogate: byte by byte
  BOOST_TEST(utf8::sanitized("\xF0\x9F\x61") == r + "a");
  BOOST_TEST(utf8::sanitized("\xFF\xFE") == r + r);
}

BOOST_AUTO_TEST_CASE(an_unfinished_tail_waits_unless_final) {
  std::string out;
  BOOST_TEST(utf8::sanitize("ab\xF0\x9F\x98", out, false) == 2u);
  BOOST_TEST(out == "ab");
  out.clear();
  BOOST_TEST(utf8::sanitize("ab\xF0\x9F\x98", out, true) == 5u);
  BOOST_TEST(out == "ab\xEF\xBF\xBD");
}

BOOST_AUTO_TEST_CASE(regex_rewrite_gives_ecmascript_semantics) {
  BOOST_TEST(to_ecmascript_semantics("(?i:'s|'ll)") == "(?:'[sS]|'[lL][lL])");
  const std::string rewritten = to_ecmascript_semantics("\\s+(?!\\S)|[^\\s\\p{L}]");
  BOOST_TEST(rewritten.find("\\x{FEFF}") != std::string::npos);
  BOOST_TEST(rewritten.find("\\S") == std::string::npos);
  BOOST_TEST(rewritten.find("\\p{L}") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
