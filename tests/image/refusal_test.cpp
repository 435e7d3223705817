// Every input the processor must refuse, each with a message that says why.
#include <boost/test/unit_test.hpp>

#include <string>

#include "model/errors.h"
#include "model/image/preprocess.h"
#include "tests/image/test_util.h"

namespace {

using Bytes = std::vector<uint8_t>;

const pio::PreprocessorConfig kConfig;
const pio::ImageLimits kLimits = pio::ImageLimits::from_config(kConfig);

void expect_refusal(const Bytes& data, const std::string& reason,
                    const pio::ImageLimits& limits = kLimits) {
  try {
    pio::preprocess_image(data, kConfig, limits);
    BOOST_ERROR("accepted an image that should be refused for: " << reason);
  } catch (const pio::ModelError& e) {
    BOOST_TEST(std::string(e.what()).find(reason) != std::string::npos,
               "message '" << e.what() << "' lacks '" << reason << "'");
  }
}

void put_be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}
void put_le(Bytes& b, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b.push_back(uint8_t(v >> (8 * i)));
}

// Headers only: the pixel data is absent, so a refusal proves the header was read first.
Bytes png_header(uint32_t w, uint32_t h) {
  Bytes b{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  put_be32(b, 13);
  b.insert(b.end(), {'I', 'H', 'D', 'R'});
  put_be32(b, w);
  put_be32(b, h);
  b.insert(b.end(), {8, 2, 0, 0, 0, 0, 0, 0, 0});  // depth, RGB, methods, CRC
  return b;
}

Bytes jpeg_header(uint16_t w, uint16_t h) {
  Bytes b{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};
  b.insert(b.end(), {0xFF, 0xC0, 0, 17, 8, uint8_t(h >> 8), uint8_t(h), uint8_t(w >> 8), uint8_t(w), 3});
  b.resize(b.size() + 9, 0);
  return b;
}

Bytes webp_vp8x_header(uint32_t w, uint32_t h) {
  Bytes b{'R', 'I', 'F', 'F', 30, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 10, 0, 0, 0,
          0, 0, 0, 0};
  put_le(b, w - 1, 3);
  put_le(b, h - 1, 3);
  return b;
}

Bytes bmp_header(int32_t w, int32_t h) {
  Bytes b{'B', 'M'};
  b.resize(14, 0);
  put_le(b, 40, 4);
  put_le(b, uint32_t(w), 4);
  put_le(b, uint32_t(h), 4);
  b.resize(54, 0);
  return b;
}

Bytes real_png(int64_t w, int64_t h) {
  return pio::test::encode_rgb(pio::test::make_rgb(w, h, [](int64_t x, int64_t y, int c) {
    return uint8_t(x * 3 + y * 5 + c);
  }), ".png");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(refusals)

BOOST_AUTO_TEST_CASE(undecodable_data) {
  expect_refusal({}, "empty");
  expect_refusal({'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'}, "unsupported or undecodable");
  expect_refusal({'G', 'I', 'F', '8', '7', 'b', 1, 0, 1, 0}, "unsupported or undecodable");
  expect_refusal({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0}, "truncated GIF header");
  Bytes png = real_png(40, 30);
  png.resize(20);  // IHDR tag present, height cut off
  expect_refusal(png, "truncated PNG header");
  png.resize(14);  // the first chunk's name cut off
  expect_refusal(png, "truncated PNG header");
  expect_refusal({'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P'}, "truncated WebP header");
  png = real_png(40, 30);
  png.resize(60);  // a valid IHDR, the pixel data cut off
  expect_refusal(png, "PNG image file is truncated");
  png = real_png(40, 30);
  for (size_t i = 41; i < png.size() - 12; ++i) png[i] ^= 0x5A;  // corrupt the compressed data
  expect_refusal(png, "cannot decode");
  expect_refusal({0xFF, 0xD8, 0xFF, 0xD9}, "no frame header");
  expect_refusal(jpeg_header(64, 48), "JPEG image file is truncated");
}

BOOST_AUTO_TEST_CASE(zero_size) {
  expect_refusal(png_header(0, 100), "zero size");
  expect_refusal(png_header(100, 0), "zero size");
  expect_refusal(jpeg_header(0, 10), "zero size");
  expect_refusal(bmp_header(0, 10), "zero size");
}

BOOST_AUTO_TEST_CASE(declared_size_over_the_cap_is_refused_before_decoding) {
  expect_refusal(png_header(100000, 100000), "exceeds the limit");
  expect_refusal(png_header(0xFFFFFFFF, 0xFFFFFFFF), "exceeds the limit");
  expect_refusal(jpeg_header(60000, 60000), "exceeds the limit");
  expect_refusal(webp_vp8x_header(16384, 16384), "exceeds the limit");
  expect_refusal(bmp_header(20000, -20000), "exceeds the limit");
  // A real, decodable image, but over a per-call cap.
  pio::ImageLimits small = kLimits;
  small.max_decoded_pixels = 1000;
  expect_refusal(real_png(64, 64), "exceeds the limit", small);
  BOOST_CHECK_NO_THROW(pio::preprocess_image(real_png(40, 25), kConfig, small));
}

BOOST_AUTO_TEST_CASE(aspect_ratio_over_200) {
  expect_refusal(real_png(402, 2), "aspect ratio");
  expect_refusal(real_png(1, 300), "aspect ratio");
  expect_refusal(png_header(5000, 10), "aspect ratio");  // from the header, before decoding
  BOOST_CHECK_NO_THROW(pio::preprocess_image(real_png(400, 2), kConfig, kLimits));
}

BOOST_AUTO_TEST_CASE(bad_limits) {
  expect_refusal(real_png(64, 64), "pixel limits", pio::ImageLimits{0, 1 << 20});
  expect_refusal(real_png(64, 64), "pixel limits", pio::ImageLimits{1024, 0});
}

BOOST_AUTO_TEST_SUITE_END()
