#include <boost/test/unit_test.hpp>

#include "storage/content_hash.h"
#include "storage/value_frame.h"

namespace pio {

BOOST_AUTO_TEST_SUITE(value_frame)

BOOST_AUTO_TEST_CASE(round_trip_gives_the_payload) {
  const std::string framed = frame_value("fp/key", "payload bytes");
  BOOST_TEST(framed.size() == kValueFrameHeader + 13);
  const auto payload = unframe_value("fp/key", framed);
  BOOST_REQUIRE(payload.has_value());
  BOOST_TEST(std::string(*payload) == "payload bytes");
}

BOOST_AUTO_TEST_CASE(damage_of_any_kind_is_refused) {
  const std::string framed = frame_value("fp/key", std::string(100, 'x'));
  BOOST_TEST(!unframe_value("fp/key", framed.substr(0, framed.size() - 1)));  // truncated
  BOOST_TEST(!unframe_value("fp/key", framed.substr(0, 10)));                 // shorter than the header
  std::string flipped = framed;
  flipped[60] ^= 0x01;
  BOOST_TEST(!unframe_value("fp/key", flipped));                             // one bit in the payload
  std::string other_version = framed;
  other_version[4] = static_cast<char>(kCacheFormatVersion + 1);
  BOOST_TEST(!unframe_value("fp/key", other_version));                       // a future format
  other_version[4] = static_cast<char>(kCacheFormatVersion - 1);
  BOOST_TEST(!unframe_value("fp/key", other_version));                       // an older one
  BOOST_TEST(!unframe_value("other-fp/key", framed));                        // stored under another model
  BOOST_TEST(!unframe_value("fp/key", ""));
}

BOOST_AUTO_TEST_CASE(content_hash_is_128_bit_hex_and_length_framed) {
  const std::string h = content_hash("abc");
  BOOST_TEST(h.size() == 32u);
  BOOST_TEST(h == content_hash("abc"));
  BOOST_TEST(h != content_hash("abd"));
  // Parts are framed by their length: ("ab", "c") differs from ("a", "bc").
  BOOST_TEST(ContentHasher().add("ab").add("c").hex() != ContentHasher().add("a").add("bc").hex());
  BOOST_TEST(checksum64("ab", "c") == checksum64("a", "bc"));  // the checksum hashes the concatenation
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace pio
