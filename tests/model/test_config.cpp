// config.json parsing: the genuine 2B file, both rope spellings, defaults, and clear errors.
#define BOOST_TEST_MODULE config
#include <boost/test/unit_test.hpp>

#include <cmath>
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
  BOOST_TEST(error_of(j).find("deepstack index 30 is outside 0..23") != std::string::npos);
  for (const auto& unordered : {std::vector<int>{11, 5}, std::vector<int>{5, 5}}) {
    j = genuine_2b();
    j["vision_config"]["deepstack_visual_indexes"] = unordered;
    BOOST_TEST(error_of(j).find("deepstack_visual_indexes must be strictly increasing") != std::string::npos);
  }
  j = genuine_2b();
  j["vision_config"]["out_hidden_size"] = 1024;
  BOOST_TEST(error_of(j).find("out_hidden_size must equal") != std::string::npos);
}

// Numbers near or past 2^31 (and 2^63) in any size or count field are refused with the field's
// name and its allowed range, never wrapped or truncated: a plain int read made 2^32 + 16 heads
// into 16, and 2^31 layers into a negative count.
BOOST_AUTO_TEST_CASE(huge_counts_and_sizes_are_refused_with_their_range) {
  struct Case {
    const char* section;  // "" for the top level
    const char* field;
    const char* range;
  };
  const Case cases[] = {
      {"text_config", "vocab_size", "[1, 16777216]"},
      {"text_config", "hidden_size", "[1, 65536]"},
      {"text_config", "intermediate_size", "[1, 262144]"},
      {"text_config", "num_hidden_layers", "[1, 1024]"},
      {"text_config", "num_attention_heads", "[1, 1024]"},
      {"text_config", "num_key_value_heads", "[1, 16]"},
      {"text_config", "head_dim", "[2, 1024]"},
      {"text_config", "max_position_embeddings", "[0, 16777216]"},
      {"vision_config", "depth", "[1, 1024]"},
      {"vision_config", "hidden_size", "[1, 65536]"},
      {"vision_config", "num_heads", "[1, 1024]"},
      {"vision_config", "intermediate_size", "[1, 262144]"},
      {"vision_config", "in_channels", "[1, 4]"},
      {"vision_config", "patch_size", "[1, 256]"},
      {"vision_config", "temporal_patch_size", "[1, 16]"},
      {"vision_config", "spatial_merge_size", "[1, 16]"},
      {"vision_config", "out_hidden_size", "[1, 65536]"},
      {"vision_config", "num_position_embeddings", "[1, 1048576]"},
      {"", "image_token_id", "[0, 151935]"},
      {"", "video_token_id", "[0, 151935]"},
      {"", "vision_start_token_id", "[0, 151935]"},
      {"", "vision_end_token_id", "[0, 151935]"},
  };
  const json values[] = {json(2147483647), json(int64_t{2147483648}), json(int64_t{4294967296} + 16),
                         json(uint64_t{18446744073709551615u}), json(-1)};
  for (const Case& c : cases) {
    for (const json& v : values) {
      json j = genuine_2b();
      (*c.section ? j[c.section] : j)[c.field] = v;
      const std::string name = std::string("config.json.") + c.section + (*c.section ? "." : "") + c.field;
      BOOST_TEST_CONTEXT(name << " = " << v.dump()) {
        BOOST_TEST(error_of(j) == name + " = " + v.dump() + " is outside the allowed range " + c.range);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(fractional_and_non_numeric_counts_are_refused) {
  json j = genuine_2b();
  j["text_config"]["num_hidden_layers"] = 28.5;
  BOOST_TEST(error_of(j) == "config.json.text_config.num_hidden_layers has the wrong type: expected an integer, got 28.5");
  j = genuine_2b();
  j["text_config"]["num_hidden_layers"] = 1e300;  // a float past every integer type
  BOOST_TEST(error_of(j).find("num_hidden_layers has the wrong type: expected an integer") != std::string::npos);
  j = genuine_2b();
  j["vision_config"]["deepstack_visual_indexes"] = {5, 11.0, 17};
  BOOST_TEST(error_of(j).find("deepstack_visual_indexes[1] has the wrong type") != std::string::npos);
  j = genuine_2b();
  j["text_config"]["rope_scaling"]["mrope_section"] = {24, 20, "20"};
  BOOST_TEST(error_of(j).find("rope_scaling.mrope_section[2] has the wrong type") != std::string::npos);
}

// Every field in range, yet the shapes multiply past 2^40 parameters (2 TB of bf16).
BOOST_AUTO_TEST_CASE(size_products_past_the_parameter_limit_are_refused) {
  json j = genuine_2b();
  auto& t = j["text_config"];
  t["num_hidden_layers"] = 1024;
  t["intermediate_size"] = 262144;
  t["hidden_size"] = 65536;
  t["num_attention_heads"] = 512;
  t["num_key_value_heads"] = 512;
  t["head_dim"] = 128;
  t["rope_scaling"]["mrope_section"] = {24, 20, 20};
  BOOST_TEST(error_of(j) == "config.json.text_config: the shapes imply more than 2^40 parameters, above any model "
                            "pio can hold");
  j = genuine_2b();
  j["vision_config"]["hidden_size"] = 65536;
  j["vision_config"]["num_heads"] = 64;
  j["vision_config"]["spatial_merge_size"] = 16;  // merger matrices of (65536 * 256)^2 weights
  BOOST_TEST(error_of(j).find("config.json.vision_config: the shapes imply more than 2^40 parameters") == 0u);
}

BOOST_AUTO_TEST_CASE(bad_float_fields_are_refused) {
  for (const json& eps : {json(-1e-6), json(0.0), json(2.0), json(std::nan("")), json(INFINITY)}) {
    json j = genuine_2b();
    j["text_config"]["rms_norm_eps"] = eps;
    BOOST_TEST_CONTEXT("rms_norm_eps " << eps.dump()) {
      BOOST_TEST(error_of(j).find("config.json.text_config.rms_norm_eps") == 0u, error_of(j));
    }
  }
  for (const json& theta : {json(0.0), json(-10000.0), json(std::nan(""))}) {
    json j = genuine_2b();
    j["text_config"]["rope_theta"] = theta;
    BOOST_TEST_CONTEXT("rope_theta " << theta.dump()) {
      BOOST_TEST(error_of(j).find("rope_theta") != std::string::npos, error_of(j));
    }
  }
  json j = genuine_2b();
  j["text_config"]["rope_scaling"]["rope_type"] = "yarn";
  BOOST_TEST(error_of(j) == "config.json.text_config: rope_type 'yarn' is not supported (default only)");
}

// Entries that sum right but are negative would index rotary slots outside the head.
BOOST_AUTO_TEST_CASE(negative_mrope_sections_are_refused) {
  json j = genuine_2b();
  j["text_config"]["rope_scaling"]["mrope_section"] = {-10, 42, 32};
  BOOST_TEST(error_of(j) ==
             "config.json.text_config.rope_scaling.mrope_section[0] = -10 is outside the allowed range [0, 64]");
}

// Token ids are embedded when the model has a vision tower, so they must be in its vocabulary;
// a text-only config only compares against them (the tests' cut vocabularies keep the real ids).
BOOST_AUTO_TEST_CASE(token_ids_must_lie_in_the_vocabulary_of_a_vision_model) {
  json j = genuine_2b();
  j["text_config"]["vocab_size"] = 512;
  j.erase("image_token_id");
  BOOST_TEST(error_of(j) == "config.json.image_token_id = 151655 (the default) is outside the vocabulary of 512 "
                            "ids; set it in config.json");
  j.erase("vision_config");
  BOOST_TEST(parse_model_config(j, "config.json").image_token_id == 151655);
}

BOOST_AUTO_TEST_CASE(malformed_sections_are_refused) {
  json j = genuine_2b();
  j["vision_config"] = 3;
  BOOST_TEST(error_of(j) == "config.json.vision_config must be a JSON object, got 3");
  j = genuine_2b();
  j["text_config"] = json::array();
  BOOST_TEST(error_of(j) == "config.json.text_config must be a JSON object, got []");
  j = genuine_2b();
  j["vision_config"]["deepstack_visual_indexes"] = json::array();
  BOOST_TEST(error_of(j) == "config.json.vision_config.deepstack_visual_indexes must list 1 to num_hidden_layers "
                            "= 28 blocks");
  j = genuine_2b();
  j["text_config"]["num_hidden_layers"] = 2;
  BOOST_TEST(error_of(j).find("must list 1 to num_hidden_layers = 2 blocks") != std::string::npos);
  j = genuine_2b();
  j["vision_config"]["num_heads"] = 1;  // head dim 1024 is the limit; 2048 is over it
  j["vision_config"]["hidden_size"] = 2048;
  BOOST_TEST(error_of(j).find("hidden_size / num_heads must be at most 1024") != std::string::npos);
}
