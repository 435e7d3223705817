#include <boost/test/unit_test.hpp>

#include "model/tokenizer/nfc.h"

using pio::nfc;

BOOST_AUTO_TEST_SUITE(nfc_normalisation)

BOOST_AUTO_TEST_CASE(composes_only_where_needed) {
  BOOST_TEST(nfc("plain ascii") == "plain ascii");
  BOOST_TEST(nfc("\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C") == "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C");  // 你好，
  BOOST_TEST(nfc("cafe\xCC\x81 ok") == "caf\xC3\xA9 ok");                                   // e + U+0301
  BOOST_TEST(nfc("x \xC4\x93\xCC\x81 y") == "x \xE1\xB8\x97 y");                            // ē + U+0301
  BOOST_TEST(nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8") == "\xEA\xB0\x81");                 // jamo -> 각
  BOOST_TEST(nfc("a\xCC\xA3\xCC\x87 b") == "\xE1\xBA\xA1\xCC\x87 b");                        // reorder+compose
  BOOST_TEST(nfc("\xE2\x84\xAB") == "\xC3\x85");                                            // Å sign -> Å
}

BOOST_AUTO_TEST_SUITE_END()
