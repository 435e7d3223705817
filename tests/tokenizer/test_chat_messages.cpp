// parse_chat_messages: OpenAI-style messages JSON rendered as the Jinja template renders them
// (the committed goldens), and every malformed shape refused with a message naming its place.
#include <boost/test/unit_test.hpp>

#include "model/errors.h"
#include "model/tokenizer/chat_messages.h"
#include "tests/tokenizer/qwen_fixture.h"

using namespace pio;
using nlohmann::json;
using pio::test::qwen_tokenizer;

namespace {

// The golden's messages with a path on each image part ("img1.png", ...), or null when the
// golden uses what --messages refuses (videos, tools, a late system turn, vision ids...).
json with_image_paths(const json& golden, std::vector<std::string>& paths) {
  if (golden["add_vision_id"].get<bool>() || !golden["add_generation_prompt"].get<bool>() || !golden["tools"].empty())
    return nullptr;
  json messages = golden["messages"];
  for (std::size_t i = 0; i < messages.size(); ++i) {
    json& m = messages[i];
    const std::string role = m["role"].get<std::string>();
    if (role == "tool" || (role == "system" && i > 0)) return nullptr;
    if (!m["content"].is_array()) continue;
    for (json& part : m["content"]) {
      const std::string type = part["type"].get<std::string>();
      if (type == "video" || (type == "image" && role != "user")) return nullptr;
      if (type == "image") {
        paths.push_back("img" + std::to_string(paths.size() + 1) + ".png");
        part["image"] = paths.back();
      }
    }
  }
  return messages;
}

// The ModelError message parse_chat_messages gives, or "" when it accepts.
std::string refusal(const json& messages, const ChatMessageLimits& limits = {}) {
  try {
    parse_chat_messages(messages, limits);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

const json kUserHi = {{"role", "user"}, {"content", "hi"}};

}  // namespace

BOOST_AUTO_TEST_SUITE(chat_messages)

BOOST_AUTO_TEST_CASE(renders_the_goldens_like_the_jinja_template) {
  int compared = 0;
  for (const auto& g : pio::test::read_golden("chat_goldens.json")) {
    std::vector<std::string> paths;
    const json messages = with_image_paths(g, paths);
    if (messages.is_null()) continue;
    ++compared;
    BOOST_TEST_CONTEXT(g["name"].get<std::string>()) {
      const ParsedChat chat = parse_chat_messages(messages);
      const auto segments = render_chat(chat.messages);
      BOOST_TEST(chat_text(segments) == g["text"].get<std::string>());
      BOOST_TEST(encode_chat(qwen_tokenizer(), segments) == g["ids"].get<std::vector<std::int32_t>>(),
                 boost::test_tools::per_element());
      BOOST_TEST(chat.image_paths == paths, boost::test_tools::per_element());
    }
  }
  BOOST_TEST(compared == 8);  // text, images, system prompts, multi-turn, several images...
}

BOOST_AUTO_TEST_CASE(images_come_out_in_prompt_order_across_turns) {
  const json messages = json::parse(R"([
    {"role": "user", "content": [{"type": "image", "image": "a.jpg"}, {"type": "text", "text": "And"},
                                 {"type": "image", "image": "b.png"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "Two."}]},
    {"role": "user", "content": [{"type": "text", "text": "Now"}, {"type": "image", "image": "c.webp"}],
     "name": "ignored"}])");
  const ParsedChat chat = parse_chat_messages(messages);
  BOOST_TEST(chat.image_paths == (std::vector<std::string>{"a.jpg", "b.png", "c.webp"}),
             boost::test_tools::per_element());
  BOOST_TEST(chat_text(render_chat(chat.messages)) ==
             "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>And<|vision_start|><|image_pad|>"
             "<|vision_end|><|im_end|>\n<|im_start|>assistant\nTwo.<|im_end|>\n<|im_start|>user\nNow"
             "<|vision_start|><|image_pad|><|vision_end|><|im_end|>\n<|im_start|>assistant\n");
}

// The template renders an empty system turn for an empty system message; only its absence
// renders none.
BOOST_AUTO_TEST_CASE(an_empty_system_message_renders_an_empty_system_turn) {
  const ParsedChat chat = parse_chat_messages(json::array({{{"role", "system"}, {"content", ""}}, kUserHi}));
  BOOST_TEST(chat_text(render_chat(chat.messages)) ==
             "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

BOOST_AUTO_TEST_CASE(malformed_messages_are_refused_where_they_go_wrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"role": "user", "content": "hi"})", "messages: expected an array of messages, got object"},
      {"[]", "messages: the array is empty"},
      {R"(["hi"])", "messages[0]: expected a message object, got string"},
      {R"([{"content": "hi"}])", "messages[0]: has no \"role\""},
      {R"([{"role": 1, "content": "hi"}])", "messages[0].role: expected a string, got number"},
      {R"([{"role": "tool", "content": "x"}])", "messages[0].role: unknown role 'tool' (expected system, user or assistant)"},
      {R"([{"role": "developer", "content": "x"}])", "messages[0].role: unknown role 'developer'"},
      {R"([{"role": "user", "content": "a"}, {"role": "system", "content": "b"}])",
       "messages[1]: a system message must be the first message"},
      {R"([{"role": "user"}])", "messages[0]: has no \"content\""},
      {R"([{"role": "user", "content": null}])", "messages[0].content: expected a string or an array of parts, got null"},
      {R"([{"role": "user", "content": 3}])", "messages[0].content: expected a string or an array of parts, got number"},
      {R"([{"role": "user", "content": ["hi"]}])", "messages[0].content[0]: expected a content part object, got string"},
      {R"([{"role": "user", "content": [{"text": "hi"}]}])", "messages[0].content[0]: has no \"type\""},
      {R"([{"role": "user", "content": [{"type": "video", "video": "v.mp4"}]}])",
       "messages[0].content[0].type: unknown content part type 'video' (expected text or image)"},
      {R"([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}])",
       "messages[0].content[0].type: unknown content part type 'image_url'"},
      {R"([{"role": "user", "content": [{"type": "text"}]}])", "messages[0].content[0]: has no \"text\""},
      {R"([{"role": "user", "content": [{"type": "text", "text": ["a"]}]}])",
       "messages[0].content[0].text: expected a string, got array"},
      {R"([{"role": "user", "content": [{"type": "image"}]}])", "messages[0].content[0]: has no \"image\""},
      {R"([{"role": "user", "content": [{"type": "image", "image": ""}]}])", "messages[0].content[0].image: is empty"},
      {R"([{"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "image", "image": "a.png"}]}])",
       "messages[1].content[0]: images are allowed in user messages only, not in assistant messages"},
      {R"([{"role": "system", "content": [{"type": "image", "image": "a.png"}]}])",
       "messages[0].content[0]: images are allowed in user messages only, not in system messages"},
  };
  for (const auto& [text, want] : cases) {
    BOOST_TEST_CONTEXT(text) {
      const std::string got = refusal(json::parse(text));
      BOOST_TEST(got.starts_with(want), got);
    }
  }
}

BOOST_AUTO_TEST_CASE(conversations_over_the_limits_are_refused) {
  ChatMessageLimits limits;
  limits.max_messages = 3;
  limits.max_parts = 4;
  limits.max_images = 2;
  limits.max_text_bytes = 10;
  const json image = {{"type", "image"}, {"image", "a.png"}};
  BOOST_TEST(refusal(json::array({kUserHi, kUserHi, kUserHi}), limits) == "");
  BOOST_TEST(refusal(json::array({kUserHi, kUserHi, kUserHi, kUserHi}), limits) ==
             "messages: more than 3 messages (4)");
  BOOST_TEST(refusal(json::array({{{"role", "user"}, {"content", {image, image}}}}), limits) == "");
  BOOST_TEST(refusal(json::array({{{"role", "user"}, {"content", {image, image, image}}}}), limits) ==
             "messages[0].content[2]: more than 2 images in the messages");
  const json text = {{"type", "text"}, {"text", "a"}};
  BOOST_TEST(refusal(json::array({{{"role", "user"}, {"content", {text, text, text, text, text}}}}), limits) ==
             "messages[0].content[4]: more than 4 content parts in the messages");
  BOOST_TEST(refusal(json::array({{{"role", "user"}, {"content", "0123456789"}}}), limits) == "");
  BOOST_TEST(refusal(json::array({{{"role", "user"}, {"content", "0123456789"}}, kUserHi}), limits) ==
             "messages[1].content: more than 10 bytes of text in the messages");
}

BOOST_AUTO_TEST_SUITE_END()
