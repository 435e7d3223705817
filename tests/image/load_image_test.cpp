// Inputs of the kinds users send, against what Hugging Face's load_image makes of them (Pillow's
// Image.open, ImageOps.exif_transpose, convert("RGB")): tests/data/image/load_image, written by
// tools/goldens/make_load_image_goldens.py with Debian's python3-pil 9.4, which uses the same
// libjpeg-turbo and libwebp as pio, so every decoded pixel must be equal. The user files of
// issue 8 are in tests/data/image/user-inputs.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/errors.h"
#include "model/image/decode.h"
#include "model/image/exif_orientation.h"
#include "model/image/image_probe.h"
#include "model/image/preprocess.h"
#include "tests/image/test_util.h"

namespace {

using Bytes = std::vector<uint8_t>;

const pio::PreprocessorConfig kConfig;
const pio::ImageLimits kLimits = pio::ImageLimits::from_config(kConfig);

const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    std::ifstream in(pio::test::image_data_dir() / "load_image" / "manifest.json");
    return nlohmann::json::parse(in);
  }();
  return m;
}

Bytes data_file(const std::string& relative) {
  return pio::test::read_bytes(pio::test::image_data_dir() / relative);
}
Bytes user_file(const std::string& name) { return data_file("user-inputs/" + name); }

std::vector<int64_t> grid_of(const Bytes& bytes) {
  const pio::PixelValues pv = pio::preprocess_image(bytes, kConfig, kLimits);
  return {pv.grid_t, pv.grid_h, pv.grid_w};
}

// The message of the ModelError that preprocessing `bytes` raises ("" when it raises none).
std::string refusal(const Bytes& bytes) {
  try {
    pio::preprocess_image(bytes, kConfig, kLimits);
  } catch (const pio::ModelError& e) {
    return e.what();
  }
  return "";
}

// One golden: size from the probe, pixels from the decoder, grid through the processor.
void check_decoded(const nlohmann::json& e) {
  BOOST_TEST_CONTEXT(e.at("name").get<std::string>()) {
    const Bytes bytes = data_file(e.at("file"));
    const pio::ImageHeader header = pio::probe_image(bytes);
    BOOST_TEST(header.width == e.at("width").get<int64_t>());
    BOOST_TEST(header.height == e.at("height").get<int64_t>());
    const pio::RgbImage img = pio::decode_rgb(bytes, header);
    const pio::RgbImage pil =
        pio::test::read_reference_png(pio::test::image_data_dir() / e.at("decoded").get<std::string>());
    BOOST_TEST(img.width == pil.width);
    BOOST_TEST(img.height == pil.height);
    BOOST_TEST((img.pixels == pil.pixels), "decoded pixels differ from load_image's");
    BOOST_TEST(grid_of(bytes) == e.at("grid_thw").get<std::vector<int64_t>>(),
               boost::test_tools::per_element());
  }
}

size_t check_kind(const std::string& kind) {
  size_t n = 0;
  for (const auto& e : manifest().at("decoded")) {
    if (e.at("kind") == kind) {
      check_decoded(e);
      ++n;
    }
  }
  return n;
}

const nlohmann::json& golden(const std::string& name) {
  for (const auto& e : manifest().at("decoded")) {
    if (e.at("name") == name) return e;
  }
  throw std::runtime_error("no golden named " + name);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(load_image)

BOOST_AUTO_TEST_CASE(every_exif_orientation_in_jpeg_png_and_webp) {
  // The same 24x16 image with orientation 1..8: APP1 in JPEG, eXIf in PNG, EXIF in WebP.
  for (const std::string format : {"jpeg", "png", "webp"}) {
    for (int o = 1; o <= 8; ++o) {
      const auto& e = golden(format + "_exif" + std::to_string(o) + "_24x16");
      BOOST_TEST_CONTEXT(e.at("name").get<std::string>()) {
        const pio::ImageHeader header = pio::probe_image(data_file(e.at("file")));
        BOOST_TEST(header.orientation == o);
        BOOST_TEST(header.width == (o >= 5 ? 16 : 24));
        BOOST_TEST(header.height == (o >= 5 ? 24 : 16));
      }
    }
  }
  // Their pixels, and eXIf after the image data, on both sides of it, lossy WebP, and EXIF that
  // is not TIFF in a JPEG that Pillow opens without it.
  BOOST_TEST(check_kind("orientation") == 24u + 4u);
}

BOOST_AUTO_TEST_CASE(exif_payloads_read_as_pillow_reads_them) {
  const auto& payloads = manifest().at("exif_payloads");
  BOOST_REQUIRE(payloads.size() >= 40u);
  for (const auto& p : payloads) {
    BOOST_TEST_CONTEXT(p.at("name").get<std::string>()) {
      const std::string hex = p.at("hex");
      Bytes tiff;
      for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        tiff.push_back(uint8_t(std::stoi(hex.substr(i, 2), nullptr, 16)));
      }
      if (p.contains("orientation")) {
        BOOST_TEST(pio::exif_orientation(tiff) == p.at("orientation").get<int>());
      } else {
        BOOST_CHECK_THROW(pio::exif_orientation(tiff), pio::ModelError);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(user_exif6_jpeg_is_an_upright_portrait) {
  const Bytes bytes = user_file("min_exif6_64x32.jpg");
  const pio::ImageHeader header = pio::probe_image(bytes);
  BOOST_TEST(header.orientation == 6);
  BOOST_TEST(header.width == 32);
  BOOST_TEST(header.height == 64);
  BOOST_TEST(grid_of(bytes) == (std::vector<int64_t>{1, 24, 12}), boost::test_tools::per_element());
  check_decoded(golden("min_exif6_64x32"));
}

BOOST_AUTO_TEST_CASE(pixel_limit_holds_for_an_oriented_image) {
  const Bytes bytes = user_file("min_exif6_64x32.jpg");
  pio::ImageLimits limits = kLimits;
  limits.max_decoded_pixels = 64 * 32 - 1;
  try {
    pio::preprocess_image(bytes, kConfig, limits);
    BOOST_ERROR("a 64x32 image passed a 2047-pixel limit");
  } catch (const pio::ModelError& e) {
    const std::string why = e.what();
    BOOST_TEST(why.find("image of 32x64 pixels exceeds the limit") != std::string::npos, why);
  }
  limits.max_decoded_pixels = 64 * 32;
  BOOST_CHECK_NO_THROW(pio::preprocess_image(bytes, kConfig, limits));
}

BOOST_AUTO_TEST_CASE(user_cmyk_black_is_black) {
  const Bytes bytes = user_file("min_cmyk_black_32.jpg");
  const pio::RgbImage img = pio::decode_rgb(bytes, pio::probe_image(bytes));
  BOOST_TEST(img.width == 32);
  BOOST_TEST(img.height == 32);
  BOOST_TEST(std::count(img.pixels.begin(), img.pixels.end(), 0) == 32 * 32 * 3);
  const pio::PixelValues pv = pio::preprocess_image(bytes, kConfig, kLimits);
  BOOST_TEST(std::count(pv.data.begin(), pv.data.end(), -1.0f) == std::ptrdiff_t(pv.data.size()));
}

BOOST_AUTO_TEST_CASE(cmyk_and_ycck_jpegs_convert_as_pillow) {
  // Adobe CMYK, CMYK without the Adobe marker, YCCK, a C x K ramp, and CMYK with orientation 6.
  BOOST_TEST(check_kind("cmyk") == 5u);
  check_decoded(golden("min_cmyk_black_32"));
}

BOOST_AUTO_TEST_CASE(png_layouts_as_pillow) {
  // 2- and 4-bit grey, 16-bit grey+alpha and RGBA, Adam7 in RGB, 1-bit grey and 4-bit palette
  // (shorter than its indices).
  BOOST_TEST(check_kind("png") == 7u);
}

BOOST_AUTO_TEST_CASE(user_gif_is_decoded) {
  const Bytes bytes = user_file("still_240.gif");
  const pio::ImageHeader header = pio::probe_image(bytes);
  BOOST_TEST(pio::format_name(header.format) == std::string("GIF"));
  BOOST_TEST(header.width == 240);
  BOOST_TEST(header.height == 240);
  check_decoded(golden("still_240"));
}

BOOST_AUTO_TEST_CASE(gif_first_frame_as_pillow) {
  // Interlaced and not, transparent, animated, frames offset in or past the screen, a palette
  // shorter than the indices, greyscale.
  BOOST_TEST(check_kind("gif") == 9u);
}

BOOST_AUTO_TEST_CASE(user_animated_webp_gives_its_first_frame) {
  const Bytes bytes = user_file("min_anim_32.webp");
  const pio::ImageHeader header = pio::probe_image(bytes);
  BOOST_TEST(header.width == 32);
  BOOST_TEST(header.height == 32);
  BOOST_TEST(grid_of(bytes) == (std::vector<int64_t>{1, 16, 16}), boost::test_tools::per_element());
  check_decoded(golden("min_anim_32"));
}

BOOST_AUTO_TEST_CASE(animated_webp_first_frame_as_pillow) {
  BOOST_TEST(check_kind("animated_webp") == 3u);  // lossless, lossy, with alpha
}

BOOST_AUTO_TEST_CASE(user_truncated_jpeg_is_refused) {
  BOOST_TEST(refusal(user_file("min_truncated_64.jpg")) == "JPEG image file is truncated");
}

BOOST_AUTO_TEST_CASE(data_that_ends_early_is_refused_in_every_format) {
  std::vector<std::string> formats;
  for (const auto& e : manifest().at("truncated")) {
    const Bytes full = data_file(e.at("file"));
    BOOST_TEST_CONTEXT(e.at("name").get<std::string>()) {
      BOOST_TEST(refusal(full) == "");
      formats.push_back(pio::format_name(pio::probe_image(full).format));
      for (const size_t n : e.at("cut_lengths").get<std::vector<size_t>>()) {
        BOOST_TEST_CONTEXT("first " << n << " of " << full.size() << " bytes") {
          const std::string why = refusal(Bytes(full.begin(), full.begin() + std::ptrdiff_t(n)));
          BOOST_TEST(why.find("truncated") != std::string::npos, "refused for: '" << why << "'");
        }
      }
    }
  }
  for (const char* f : {"JPEG", "PNG", "WebP", "BMP", "GIF"}) {
    BOOST_TEST(std::count(formats.begin(), formats.end(), f) >= 1, f);
  }
}

BOOST_AUTO_TEST_CASE(refused_where_load_image_raises) {
  // The truncated user JPEG, EXIF that is not TIFF (where Pillow raises), a GIF without frames.
  BOOST_TEST(manifest().at("refused").size() == 5u);
  for (const auto& e : manifest().at("refused")) {
    BOOST_TEST_CONTEXT(e.at("name").get<std::string>()) {
      const std::string why = refusal(data_file(e.at("file")));
      BOOST_TEST(why.find(e.at("reason").get<std::string>()) != std::string::npos,
                 "refused for: '" << why << "'");
    }
  }
}

BOOST_AUTO_TEST_CASE(endless_progressive_scans_are_refused) {
  // 600 scans: Pillow decodes it; pio stops at libjpeg-turbo's limit for untrusted data.
  BOOST_TEST(refusal(data_file("load_image/jpeg_600_scans.jpg")) ==
             "cannot decode JPEG image: more than 500 progressive scans");
}

BOOST_AUTO_TEST_SUITE_END()
