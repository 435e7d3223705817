// The Hugging Face processor's own output (transformers 4.57 Qwen2VLImageProcessorFast with
// torchvision 0.22.1, the genuine Qwen3-VL-2B preprocessor_config.json): pixel_values [256, 1536]
// for a 256x256 formula image must match bit for bit. The golden is packed by
// tools/goldens/extract_hf_pixel_golden.py as the 256 float32 levels it contains plus the level
// of every element; that script proves the packing lossless against the golden's SHA-256.
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "model/image/preprocess.h"
#include "tests/image/test_util.h"

BOOST_AUTO_TEST_SUITE(hf_golden)

BOOST_AUTO_TEST_CASE(pixel_values_match_the_hf_processor_exactly) {
  const auto dir = pio::test::image_data_dir() / "hf_golden_256";
  const auto level_bytes = pio::test::read_bytes(dir / "levels.f32");
  const auto levels = pio::test::read_bytes(dir / "pixel_levels.u8");
  BOOST_REQUIRE(level_bytes.size() == 256 * sizeof(float));
  BOOST_REQUIRE(levels.size() == size_t(256 * 1536));
  float level_value[256];
  std::memcpy(level_value, level_bytes.data(), sizeof level_value);  // little-endian host

  // R = (3x + 5y + 17) % 256, G = (11x + 7y + 29) % 256, B = (13x + 19y + 43) % 256.
  const auto img = pio::test::make_rgb(256, 256, [](int64_t x, int64_t y, int c) {
    const int64_t a[] = {3, 11, 13}, b[] = {5, 7, 19}, k[] = {17, 29, 43};
    return uint8_t((a[c] * x + b[c] * y + k[c]) % 256);
  });
  const auto png = pio::test::encode_rgb(img, ".png");
  const auto cfg = pio::load_preprocessor_config(dir);
  const pio::PixelValues pv = pio::preprocess_image(png, cfg, pio::ImageLimits::from_config(cfg));

  BOOST_TEST(pv.grid_t == 1);
  BOOST_TEST(pv.grid_h == 16);
  BOOST_TEST(pv.grid_w == 16);
  BOOST_TEST(pv.merged_tokens(cfg.merge_size) == 64);
  BOOST_REQUIRE(pv.data.size() == levels.size());
  size_t differing = 0;
  for (size_t i = 0; i < levels.size(); ++i) {
    differing += std::memcmp(&pv.data[i], &level_value[levels[i]], sizeof(float)) != 0;
  }
  BOOST_TEST(differing == 0u);
  // Spot values straight from the golden file's first row.
  BOOST_TEST(pv.data[0] == -0.8666666746139526f);
  BOOST_TEST(pv.data[1] == -0.843137264251709f);
}

BOOST_AUTO_TEST_SUITE_END()
