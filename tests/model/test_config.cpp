// config.json parsing: the genuine 2B file, both rope spellings, defaults, and clear errors.
#define BOOST_TEST_MODULE config
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "model/checkpoint_maker.h"
#include "model/config.h"
#include "model/errors.h"

using namespace pio;
using nlohmann::json;

namespace {

json genuine_2b() {
  std::ifstream in(std::string(PIO_TEST_DATA_DIR) + "/config/qwen3vl-2b-config.json");
  return json::parse(in);
}

std::string error_of(const json& j) {
  try {
    parse_model_config(j, "config.json");
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(genuine_2b_config_parses_to_its_values) {
  const ModelConfig c = parse_model_config(genuine_2b(), "config.json");
  BOOST_TEST(c.text.vocab_size == 151936);
  BOOST_TEST(c.text.hidden_size == 2048);
  BOOST_TEST(c.text.num_hidden_layers == 28);
  BOOST_TEST(c.text.num_attention_heads == 16);
  BOOST_TEST(c.text.num_key_value_heads == 8);
  BOOST_TEST(c.text.head_dim == 128);
  BOOST_TEST(c.text.rope_theta == 5000000.0);
  BOOST_TEST((c.text.mrope_section == std::array<int, 3>{24, 20, 20}));
  BOOST_TEST(c.text.tie_word_embeddings);
  BOOST_REQUIRE(c.vision.has_value());
  BOOST_TEST(c.vision->depth == 24);
  BOOST_TEST((c.vision->deepstack_visual_indexes == std::vector<int>{5, 11, 17}));
  BOOST_TEST(c.image_token_id == 151655);
  BOOST_TEST(c.vision_start_token_id == 151652);
}

// Without the key, transformers' default taps blocks 8, 16 and 24.
BOOST_AUTO_TEST_CASE(deepstack_indexes_default_as_transformers) {
  json j = genuine_2b();
  j["vision_config"].erase("deepstack_visual_indexes");
  j["vision_config"]["depth"] = 27;
  BOOST_TEST((parse_model_config(j, "config.json").vision->deepstack_visual_indexes == std::vector<int>{8, 16, 24}));
}

BOOST_AUTO_TEST_CASE(the_2b_preset_writes_the_genuine_config) {
  const json written = to_hf_json(preset_config("2b"));
  const json genuine = genuine_2b();
  BOOST_TEST(written["text_config"] == genuine["text_config"]);
  BOOST_TEST(written["vision_config"] == genuine["vision_config"]);
  for (const char* k : {"image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id",
                        "tie_word_embeddings", "model_type", "architectures"})
    BOOST_TEST(written[k] == genuine[k], k);
}

BOOST_AUTO_TEST_CASE(rope_parameters_spelling_is_read) {
  json j = genuine_2b();
  auto& t = j["text_config"];
  t["rope_parameters"] = t["rope_scaling"];
  t["rope_parameters"]["rope_theta"] = 1234.0;
  t["rope_parameters"]["mrope_section"] = {32, 16, 16};
  t.erase("rope_scaling");
  t.erase("rope_theta");
  const ModelConfig c = parse_model_config(j, "config.json");
  BOOST_TEST(c.text.rope_theta == 1234.0);
  BOOST_TEST((c.text.mrope_section == std::array<int, 3>{32, 16, 16}));
}

BOOST_AUTO_TEST_CASE(defaults_apply_where_fields_are_optional) {
  json j = genuine_2b();
  j["text_config"].erase("head_dim");
  j["text_config"].erase("rope_scaling");
  j["text_config"].erase("tie_word_embeddings");
  j["tie_word_embeddings"] = false;
  const ModelConfig c = parse_model_config(j, "config.json");
  BOOST_TEST(c.text.head_dim == 128);                                  // hidden / heads
  BOOST_TEST((c.text.mrope_section == std::array<int, 3>{64, 0, 0}));  // plain 1D rotary
  BOOST_TEST(!c.text.tie_word_embeddings);                             // from the top level
  j.erase("vision_config");
  BOOST_TEST(!parse_model_config(j, "config.json").vision.has_value());
}

BOOST_AUTO_TEST_CASE(bad_configs_name_the_field) {
  json j = genuine_2b();
  j["text_config"].erase("hidden_size");
  BOOST_TEST(error_of(j).find("text_config.hidden_size is missing") != std::string::npos);
  j = genuine_2b();
  j["text_config"]["num_key_value_heads"] = 5;
  BOOST_TEST(error_of(j).find("multiple of num_key_value_heads") != std::string::npos);
  j = genuine_2b();
  j["text_config"]["rope_scaling"]["mrope_section"] = {24, 20, 21};
  BOOST_TEST(error_of(j).find("mrope_section must sum to head_dim / 2 = 64") != std::string::npos);
  j = genuine_2b();
  j["text_config"]["vocab_size"] = "many";
  BOOST_TEST(error_of(j).find("vocab_size has the wrong type") != std::string::npos);
  j = genuine_2b();
  j["vision_config"]["deepstack_visual_indexes"] = {5, 30};
  BOOST_TEST(error_of(j).find("deepstack index 30") != std::string::npos);
  for (const auto& unordered : {std::vector<int>{11, 5}, std::vector<int>{5, 5}}) {
    j = genuine_2b();
    j["vision_config"]["deepstack_visual_indexes"] = unordered;
    BOOST_TEST(error_of(j).find("deepstack_visual_indexes must be strictly increasing") != std::string::npos);
  }
  j = genuine_2b();
  j["vision_config"]["out_hidden_size"] = 1024;
  BOOST_TEST(error_of(j).find("out_hidden_size must equal") != std::string::npos);
}
