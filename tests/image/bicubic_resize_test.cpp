// The resampler's filter by hand, and properties any correct resampler keeps. Exactness against
// Pillow on real images is pillow_golden_test.cpp.
#include <boost/test/unit_test.hpp>

#include "model/image/bicubic_resize.h"
#include "tests/image/test_util.h"

BOOST_AUTO_TEST_SUITE(bicubic_resize_suite)

// Shrinking 4 -> 2: scale 2, support 4, 9 taps. Output 0 is centred at 1.0 and reads inputs 0..3
// at distances (j + 0.5 - 1) / 2 = -0.25, 0.25, 0.75, 1.25, whose Keys (a = -0.5) values are
// 0.8671875, 0.8671875, 0.2265625, -0.0703125 (sum 1.890625). The largest normalised weight is
// 0.45868, so the precision is 16 bits: the largest p with round(0.45868 * 2^(p+1)) < 2^15.
BOOST_AUTO_TEST_CASE(hand_worked_shrink_filter) {
  const pio::AxisFilter f = pio::make_bicubic_filter(4, 2);
  BOOST_TEST(f.taps == 9);
  BOOST_TEST(f.precision == 16);
  BOOST_TEST(f.start[0] == 0);
  BOOST_TEST(f.count[0] == 4);
  const double sum = 1.890625, scale = 65536.0;
  const int16_t want[] = {int16_t(0.8671875 / sum * scale + 0.5), int16_t(0.8671875 / sum * scale + 0.5),
                          int16_t(0.2265625 / sum * scale + 0.5), int16_t(-0.0703125 / sum * scale - 0.5)};
  for (int j = 0; j < 4; ++j) BOOST_TEST(f.weights[size_t(j)] == want[j]);
  for (int j = 4; j < 9; ++j) BOOST_TEST(f.weights[size_t(j)] == 0);
  // Output 1 is the mirror image: centred at 3.0, inputs 0..3 in reverse order.
  BOOST_TEST(f.start[1] == 0);
  for (int j = 0; j < 4; ++j) BOOST_TEST(f.weights[size_t(9 + j)] == want[3 - j]);
}

BOOST_AUTO_TEST_CASE(same_size_is_identity) {
  const auto img = pio::test::make_rgb(37, 21, [](int64_t x, int64_t y, int c) {
    return uint8_t((x * 31 + y * 17 + c * 101) % 256);
  });
  BOOST_TEST(pio::resize_bicubic(img, 37, 21).pixels == img.pixels);
}

BOOST_AUTO_TEST_CASE(flat_image_stays_flat) {
  for (uint8_t level : {uint8_t(0), uint8_t(1), uint8_t(128), uint8_t(254), uint8_t(255)}) {
    pio::RgbImage img{53, 29, std::vector<uint8_t>(53 * 29 * 3, level)};
    for (auto [w, h] : {std::pair{160, 96}, {17, 11}, {32, 64}}) {
      const auto out = pio::resize_bicubic(img, w, h);
      BOOST_TEST(out.width == w);
      BOOST_TEST(out.height == h);
      BOOST_TEST(out.pixels == std::vector<uint8_t>(size_t(w * h * 3), level));
    }
  }
}

// Negative lobes overshoot at hard edges; the result must clamp, not wrap around.
BOOST_AUTO_TEST_CASE(edges_clamp_instead_of_wrapping) {
  const auto img = pio::test::make_rgb(8, 8, [](int64_t x, int64_t, int) {
    return uint8_t(x < 4 ? 0 : 255);
  });
  const auto out = pio::resize_bicubic(img, 32, 8);
  for (int64_t x = 0; x < 32; ++x) {
    const uint8_t v = out.at(0, x)[0];
    if (x < 12) BOOST_TEST(v <= 10);  // dark side: no wrap to ~255
    if (x >= 20) BOOST_TEST(v >= 245);  // bright side: no wrap to ~0
  }
  BOOST_TEST(out.at(0, 0)[0] == 0);
  BOOST_TEST(out.at(0, 31)[0] == 255);
}

BOOST_AUTO_TEST_SUITE_END()
