// Stop strings: matched across deltas, never emitted, text before them kept whole.
#include <boost/test/unit_test.hpp>

#include "serving/stop_strings.h"

using pio::StopStringMatcher;

namespace {
// Feeds the deltas and returns everything emitted (push outputs, then finish if no stop).
std::string run(StopStringMatcher& m, const std::vector<std::string>& deltas) {
  std::string out;
  for (const auto& d : deltas) out += m.push(d);
  return out + m.finish();
}
}  // namespace

BOOST_AUTO_TEST_SUITE(stop_strings)

BOOST_AUTO_TEST_CASE(match_spanning_three_deltas_is_cut_before_the_stop) {
  StopStringMatcher m({"STOP"});
  BOOST_TEST(m.push("hello S") == "hello ");  // "S" could start the stop string
  BOOST_TEST(m.push("T") == "");
  BOOST_TEST(m.push("OP and more") == "");
  BOOST_TEST(m.stopped());
  BOOST_TEST(m.matched() == "STOP");
  BOOST_TEST(m.push("later") == "");
  BOOST_TEST(m.finish() == "");
}

BOOST_AUTO_TEST_CASE(false_start_is_released) {
  StopStringMatcher m({"STOP"});
  BOOST_TEST(run(m, {"a ST", "ART b"}) == "a START b");
  BOOST_TEST(!m.stopped());
}

BOOST_AUTO_TEST_CASE(earliest_of_several_stops_wins) {
  StopStringMatcher m({"world", "lo w"});
  BOOST_TEST(run(m, {"hel", "lo wor", "ld"}) == "hel");
  BOOST_TEST(m.matched() == "lo w");
}

BOOST_AUTO_TEST_CASE(overlapping_prefix_is_found) {
  // "aab" inside "aaab": the held-back tail must not skip the second 'a' start.
  StopStringMatcher m({"aab"});
  BOOST_TEST(run(m, {"x a", "a", "a", "b y"}) == "x a");
  BOOST_TEST(m.stopped());
}

BOOST_AUTO_TEST_CASE(multibyte_stop_holds_back_whole_characters) {
  StopStringMatcher m({"\xC3\xA9t\xC3\xA9"});  // "été"
  BOOST_TEST(m.push("caf\xC3\xA9") == "caf");
  BOOST_TEST(m.push("!") == "\xC3\xA9!");
  BOOST_TEST(run(m, {"l'\xC3\xA9", "t\xC3\xA9 fini"}) == "l'");
}

BOOST_AUTO_TEST_CASE(no_stops_passes_everything_through) {
  StopStringMatcher m({"", ""});
  BOOST_TEST(m.push("abc") == "abc");
  BOOST_TEST(m.finish() == "");
}

BOOST_AUTO_TEST_CASE(every_split_of_a_text_gives_the_same_answer) {
  const std::string text = "The answer is 42.\nUser: next question";
  for (size_t a = 0; a <= text.size(); ++a) {
    for (size_t b = a; b <= text.size(); b += 3) {
      StopStringMatcher m({"\nUser:", "unused stop"});
      const std::string out = run(m, {text.substr(0, a), text.substr(a, b - a), text.substr(b)});
      BOOST_TEST(out == "The answer is 42.", "split at " << a << "," << b);
      BOOST_TEST(m.stopped());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
