// smart_resize against values computed by transformers' formula in Python
// (tools/goldens/make_image_goldens.py: smart_resize).
#include <boost/test/unit_test.hpp>

#include "model/errors.h"
#include "model/image/smart_resize.h"

namespace {

struct Case {
  int64_t h, w, min_pixels, max_pixels, want_h, want_w;
};

constexpr int64_t kMin = 65536, kMax = 16777216;  // the Qwen3-VL-2B config's budgets

}  // namespace

BOOST_AUTO_TEST_SUITE(smart_resize_suite)

BOOST_AUTO_TEST_CASE(matches_python_reference) {
  const Case cases[] = {
      {256, 256, kMin, kMax, 256, 256},
      {1080, 1920, kMin, kMax, 1088, 1920},
      {80, 400, 1024, kMax, 64, 384},   // 2.5 and 12.5 round down to even
      {48, 48, 1024, kMax, 64, 64},     // 1.5 rounds up to even
      {5000, 5000, kMin, kMax, 4096, 4096},
      {4000, 3000, kMin, 1003520, 1152, 864},
      {720, 1280, kMin, 401408, 448, 832},
      {10, 2000, kMin, kMax, 32, 3648},
      {3, 5, kMin, kMax, 224, 352},
      {1, 200, kMin, kMax, 32, 3648},
      {700, 300, 1024, 50000, 320, 128},
  };
  for (const Case& c : cases) {
    const auto r = pio::smart_resize(c.h, c.w, 32, c.min_pixels, c.max_pixels);
    BOOST_TEST_CONTEXT(c.h << "x" << c.w << " in [" << c.min_pixels << ", " << c.max_pixels << "]") {
      BOOST_TEST(r.height == c.want_h);
      BOOST_TEST(r.width == c.want_w);
    }
  }
}

BOOST_AUTO_TEST_CASE(aspect_ratio_limit_is_200) {
  BOOST_CHECK_NO_THROW(pio::smart_resize(2, 400, 32, kMin, kMax));
  BOOST_CHECK_NO_THROW(pio::smart_resize(400, 2, 32, kMin, kMax));
  BOOST_CHECK_THROW(pio::smart_resize(2, 401, 32, kMin, kMax), pio::ModelError);
  BOOST_CHECK_THROW(pio::smart_resize(401, 2, 32, kMin, kMax), pio::ModelError);
}

BOOST_AUTO_TEST_CASE(zero_size_is_refused) {
  BOOST_CHECK_THROW(pio::smart_resize(0, 10, 32, kMin, kMax), pio::ModelError);
  BOOST_CHECK_THROW(pio::smart_resize(10, 0, 32, kMin, kMax), pio::ModelError);
}

BOOST_AUTO_TEST_SUITE_END()
