// preprocessor_config.json: the genuine Qwen3-VL-2B file, defaults, and malformed files.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <fstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "model/errors.h"
#include "model/image/preprocessor_config.h"
#include "tests/image/test_util.h"

namespace {

// A fresh directory holding one preprocessor_config.json with the given text.
std::filesystem::path config_dir_with(const std::string& text) {
  static int n = 0;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("pio_image_config_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "preprocessor_config.json") << text;
  return dir;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(preprocessor_config)

BOOST_AUTO_TEST_CASE(reads_the_genuine_2b_file) {
  const auto cfg = pio::load_preprocessor_config(pio::test::image_data_dir() / "hf_golden_256");
  BOOST_TEST(cfg.min_pixels == 65536);
  BOOST_TEST(cfg.max_pixels == 16777216);
  BOOST_TEST(cfg.patch_size == 16);
  BOOST_TEST(cfg.temporal_patch_size == 2);
  BOOST_TEST(cfg.merge_size == 2);
  BOOST_TEST(cfg.resize_factor() == 32);
  for (int c = 0; c < 3; ++c) {
    BOOST_TEST(cfg.image_mean[size_t(c)] == 0.5);
    BOOST_TEST(cfg.image_std[size_t(c)] == 0.5);
  }
  BOOST_TEST(cfg.rescale_factor == 1.0 / 255.0);
}

BOOST_AUTO_TEST_CASE(qwen2_style_pixel_keys_override_size) {
  const auto cfg = pio::parse_preprocessor_config(nlohmann::json::parse(
      R"({"size": {"shortest_edge": 100, "longest_edge": 200}, "min_pixels": 3136, "max_pixels": 12845056})"));
  BOOST_TEST(cfg.min_pixels == 3136);
  BOOST_TEST(cfg.max_pixels == 12845056);
}

BOOST_AUTO_TEST_CASE(refuses_missing_and_malformed_files) {
  BOOST_CHECK_THROW(pio::load_preprocessor_config("/nonexistent/model"), pio::ModelError);
  BOOST_CHECK_THROW(pio::load_preprocessor_config(config_dir_with("{not json")), pio::ModelError);
  BOOST_CHECK_THROW(pio::load_preprocessor_config(config_dir_with(R"({"image_mean": [0.5]})")),
                    pio::ModelError);
  BOOST_CHECK_THROW(pio::load_preprocessor_config(config_dir_with(R"({"patch_size": 0})")),
                    pio::ModelError);
  BOOST_CHECK_THROW(pio::load_preprocessor_config(config_dir_with(R"({"patch_size": "16"})")),
                    pio::ModelError);
}

namespace {

std::string error_of(const std::string& text) {
  try {
    pio::parse_preprocessor_config(nlohmann::json::parse(text));
  } catch (const pio::ModelError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

// transformers' Qwen2VLImageProcessor(Fast) raises "size must contain 'shortest_edge' and
// 'longest_edge' keys." once min_pixels / max_pixels have filled `size` in.
BOOST_AUTO_TEST_CASE(size_is_validated_as_transformers_does) {
  const std::string want = "preprocessor_config.json: size must contain 'shortest_edge' and 'longest_edge' keys";
  for (const char* text : {R"({"size": {"shortest_edge": 65536}})", R"({"size": {"longest_edge": 16777216}})",
                           R"({"size": {"height": 224, "width": 224}})", R"({"size": {}})",
                           R"({"size": {"height": 224, "width": 224}, "max_pixels": 12845056})"}) {
    BOOST_TEST(error_of(text).find(want) == 0u, text << ": " << error_of(text));
  }
  BOOST_TEST(error_of(R"({"size": 224})") == "preprocessor_config.json: size must be an object, got 224");
  // The top-level keys complete it, as in transformers.
  auto cfg = pio::parse_preprocessor_config(
      nlohmann::json::parse(R"({"size": {"shortest_edge": 4096}, "max_pixels": 1000000})"));
  BOOST_TEST(cfg.min_pixels == 4096);
  BOOST_TEST(cfg.max_pixels == 1000000);
  cfg = pio::parse_preprocessor_config(nlohmann::json::parse(
      R"({"size": {"height": 224, "width": 224}, "min_pixels": 3136, "max_pixels": 12845056})"));
  BOOST_TEST(cfg.min_pixels == 3136);
  BOOST_TEST(cfg.max_pixels == 12845056);
}

BOOST_AUTO_TEST_CASE(every_number_is_range_checked) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {R"({"size": {"shortest_edge": 0, "longest_edge": 16777216}})",
       "size.shortest_edge = 0 is outside the allowed range [1, 67108864]"},
      {R"({"size": {"shortest_edge": 65536, "longest_edge": 2147483648}})",
       "size.longest_edge = 2147483648 is outside the allowed range [1, 67108864]"},
      {R"({"size": {"shortest_edge": 65536, "longest_edge": 1.5e7}})",
       "size.longest_edge has the wrong type: expected an integer, got 15000000.0"},
      {R"({"max_pixels": -1})", "max_pixels = -1 is outside the allowed range [1, 67108864]"},
      {R"({"min_pixels": 18446744073709551615})",
       "min_pixels = 18446744073709551615 is outside the allowed range [1, 67108864]"},
      {R"({"size": {"shortest_edge": 200000, "longest_edge": 100000}})",
       "the minimum pixel budget 200000 (size.shortest_edge / min_pixels) exceeds the maximum 100000 "
       "(size.longest_edge / max_pixels)"},
      {R"({"patch_size": 2147483647})", "patch_size = 2147483647 is outside the allowed range [1, 256]"},
      {R"({"patch_size": 0})", "patch_size = 0 is outside the allowed range [1, 256]"},
      {R"({"patch_size": "16"})", "patch_size has the wrong type: expected an integer, got \"16\""},
      {R"({"merge_size": 4294967298})", "merge_size = 4294967298 is outside the allowed range [1, 16]"},
      {R"({"temporal_patch_size": 17})", "temporal_patch_size = 17 is outside the allowed range [1, 16]"},
      {R"({"rescale_factor": 0})", "rescale_factor = 0 is outside the allowed range [1e-06, 1]"},
      {R"({"rescale_factor": -0.004})", "rescale_factor = -0.004 is outside the allowed range [1e-06, 1]"},
      {R"({"rescale_factor": 1e-300})", "rescale_factor = 1e-300 is outside the allowed range [1e-06, 1]"},
      {R"({"image_mean": [0.5, 0.5, 1e30]})", "image_mean[2] = 1e+30 is outside the allowed range [-1000, 1000]"},
      {R"({"image_std": [0.5, 0, 0.5]})", "image_std[1] = 0 is outside the allowed range [1e-06, 1000]"},
      {R"({"image_std": -0.5})", "image_std = -0.5 is outside the allowed range [1e-06, 1000]"},
      {R"({"image_mean": [0.5, 0.5]})", "image_mean must be 3 numbers (or one), got [0.5,0.5]"},
      {R"({"do_normalize": false})", "do_normalize = false is not supported (pio always runs this step)"},
      {R"({"do_rescale": 0})", "do_rescale must be true or false, got 0"},
      {R"({"resample": 2})", "resample = 2 is not supported (3, bicubic, only)"},
      {R"({"resample": 99})", "resample = 99 is outside the allowed range [0, 5]"},
  };
  for (const Case& c : cases)
    BOOST_TEST(error_of(c.text) == std::string("preprocessor_config.json: ") + c.error, c.text);
}

// Non-finite numbers cannot be written in JSON text but can reach the parser from code.
BOOST_AUTO_TEST_CASE(non_finite_numbers_are_refused) {
  nlohmann::json j = {{"image_mean", {0.5, std::nan(""), 0.5}}};
  BOOST_CHECK_THROW(pio::parse_preprocessor_config(j), pio::ModelError);
  j = {{"rescale_factor", INFINITY}};
  BOOST_CHECK_THROW(pio::parse_preprocessor_config(j), pio::ModelError);
}

BOOST_AUTO_TEST_CASE(one_number_serves_all_channels_and_explicit_defaults_are_accepted) {
  const auto cfg = pio::parse_preprocessor_config(nlohmann::json::parse(
      R"({"image_mean": 0.25, "image_std": 0.75, "do_resize": true, "do_normalize": true, "resample": 3})"));
  for (int c = 0; c < 3; ++c) {
    BOOST_TEST(cfg.image_mean[size_t(c)] == 0.25);
    BOOST_TEST(cfg.image_std[size_t(c)] == 0.75);
  }
}

BOOST_AUTO_TEST_SUITE_END()
