// <tool_call> blocks in Qwen's output parsed into tool calls, whole and while streaming.
#include <boost/test/unit_test.hpp>

#include "http/tool_calls.h"

using namespace pio::http;

BOOST_AUTO_TEST_SUITE(tool_calls)

BOOST_AUTO_TEST_CASE(parses_blocks_and_keeps_the_rest_as_content) {
  const ParsedOutput out = parse_tool_calls(
      "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>");
  BOOST_REQUIRE(out.calls.size() == 2u);
  BOOST_TEST(out.calls[0].name == "get_weather");
  BOOST_TEST(out.calls[0].arguments == R"({"city": "Paris", "days": 2})");  // keys in the model's order
  BOOST_TEST(out.calls[1].name == "get_time");
  BOOST_TEST(out.calls[1].arguments == "{}");
  BOOST_REQUIRE(out.content.has_value());
  BOOST_TEST(*out.content == "Let me look.");
}

BOOST_AUTO_TEST_CASE(an_unclosed_last_block_still_counts) {
  const ParsedOutput out = parse_tool_calls("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": [1, 2]}}\n");
  BOOST_REQUIRE(out.calls.size() == 1u);
  BOOST_TEST(out.calls[0].arguments == R"({"x": [1, 2]})");
  BOOST_TEST(!out.content.has_value());
}

BOOST_AUTO_TEST_CASE(unparsable_blocks_leave_plain_content) {
  for (const char* text : {"<tool_call>not json</tool_call>", "<tool_call>{\"arguments\": {}}</tool_call>",
                           "<tool_call>{\"name\": 3}</tool_call>", "<tool_call>[1]</tool_call>"}) {
    BOOST_TEST_CONTEXT(text) {
      const ParsedOutput out = parse_tool_calls(text);
      BOOST_TEST(out.calls.empty());
      BOOST_TEST(out.content.value_or("") == text);
    }
  }
  const ParsedOutput plain = parse_tool_calls("  just text  ");
  BOOST_TEST(plain.calls.empty());
  BOOST_TEST(plain.content.value_or("") == "just text");
  BOOST_TEST(!parse_tool_calls("").content.has_value());
}

BOOST_AUTO_TEST_CASE(streams_text_before_the_tag_and_holds_the_rest) {
  ToolCallStream s;
  std::string sent;
  for (const char* delta : {"Sure", ", <", "tool", "_c", "all>\n{\"name\": \"f\", ", "\"arguments\": {}}\n</tool_call>", " bye"})
    sent += s.feed(delta);
  BOOST_TEST(sent == "Sure, ");
  const ParsedOutput tail = s.finish();
  BOOST_REQUIRE(tail.calls.size() == 1u);
  BOOST_TEST(tail.calls[0].name == "f");
  BOOST_TEST(tail.content.value_or("") == "bye");
}

BOOST_AUTO_TEST_CASE(a_held_prefix_that_is_not_the_tag_goes_out) {
  ToolCallStream s;
  std::string sent = s.feed("a <to");
  BOOST_TEST(sent == "a ");
  sent += s.feed("p> b");
  BOOST_TEST(sent == "a <top> b");
  s.feed("<tool");
  const ParsedOutput tail = s.finish();
  BOOST_TEST(tail.calls.empty());
  BOOST_TEST(tail.content.value_or("") == "<tool");
}

BOOST_AUTO_TEST_SUITE_END()
