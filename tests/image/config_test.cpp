// preprocessor_config.json: the genuine Qwen3-VL-2B file, defaults, and malformed files.
#include <boost/test/unit_test.hpp>

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

BOOST_AUTO_TEST_SUITE_END()
