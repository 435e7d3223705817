// Patch order checked element by element against the index formula of the processor's
// view/permute (docs: qwen3vl.md section 3.1), written here as a decomposition of the flat index.
#include <boost/test/unit_test.hpp>

#include "model/errors.h"
#include "model/image/patchify.h"
#include "tests/image/test_util.h"

BOOST_AUTO_TEST_SUITE(patchify_suite)

BOOST_AUTO_TEST_CASE(row_and_column_order_follow_the_processor) {
  const auto img = pio::test::make_rgb(96, 64, [](int64_t x, int64_t y, int c) {
    return uint8_t((x * 7 + y * 13 + c * 50) % 256);
  });
  const pio::PreprocessorConfig cfg;  // patch 16, temporal 2, merge 2, mean = std = 0.5
  const pio::PixelValues pv = pio::patchify(img, cfg);
  BOOST_TEST(pv.grid_t == 1);
  BOOST_TEST(pv.grid_h == 4);
  BOOST_TEST(pv.grid_w == 6);
  BOOST_TEST(pv.row_width() == 1536);
  BOOST_TEST(pv.merged_tokens(2) == 6);
  BOOST_REQUIRE(pv.data.size() == size_t(24 * 1536));

  const int64_t blocks_w = 3;  // merged columns
  size_t mismatches = 0;
  for (int64_t row = 0; row < 24; ++row) {
    // row = ((block_row * blocks_w + block_col) * 2 + in_row) * 2 + in_col
    const int64_t in_col = row % 2, in_row = (row / 2) % 2;
    const int64_t block = row / 4, block_col = block % blocks_w, block_row = block / blocks_w;
    for (int64_t k = 0; k < 1536; ++k) {
      // k = ((channel * 2 + frame) * 16 + py) * 16 + px; both frames hold the same picture
      const int64_t px = k % 16, py = (k / 16) % 16, channel = k / 512;
      const int64_t y = (block_row * 2 + in_row) * 16 + py, x = (block_col * 2 + in_col) * 16 + px;
      const float want = (float(img.at(y, x)[channel]) - 127.5f) / 127.5f;
      mismatches += pv.data[size_t(row * 1536 + k)] != want;
    }
  }
  BOOST_TEST(mismatches == 0u);
}

BOOST_AUTO_TEST_CASE(sides_must_be_multiples_of_32) {
  const pio::RgbImage img{48, 32, std::vector<uint8_t>(48 * 32 * 3)};
  BOOST_CHECK_THROW(pio::patchify(img, pio::PreprocessorConfig{}), pio::ModelError);
}

BOOST_AUTO_TEST_SUITE_END()
