// Images from image_url: base64 data: URIs, files under --allowed-media-dir only, header
// checks before decoding (422 for undecodable data and over-limit declared sizes).
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "http/api_error.h"
#include "http/media.h"
#include "tests/http/http_support.h"
#include "tests/support/temp_dir.h"

using namespace pio::http;

namespace {

// The status load_image answers with, 0 when it accepts.
int status(const std::string& url, const MediaPolicy& policy = {}) {
  try {
    load_image(url, policy, "image_url");
  } catch (const ApiError& e) {
    BOOST_TEST(e.param() == "image_url");
    return e.status();
  }
  return 0;
}

const std::string kPng = test::data_dir() + "/image/pillow/rgb_37x23.png";

}  // namespace

BOOST_AUTO_TEST_SUITE(media)

BOOST_AUTO_TEST_CASE(base64_decodes_with_and_without_padding) {
  BOOST_TEST(decode_base64("aGVsbG8=", "p") == (std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o'}), boost::test_tools::per_element());
  BOOST_TEST(decode_base64("aGVsbG8", "p") == (std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o'}), boost::test_tools::per_element());
  BOOST_TEST(decode_base64("aGk=", "p") == (std::vector<uint8_t>{'h', 'i'}), boost::test_tools::per_element());
  BOOST_TEST(decode_base64("", "p").empty());
  const auto bytes = test::read_bytes(kPng);
  BOOST_TEST(decode_base64(test::base64(bytes), "p") == bytes, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bad_base64_is_400) {
  for (const char* bad : {"aGVsb!8=", "a", "aG=sbG8=", "aGVsbG8===", "aGVs.bG8=", "aGVsbG8=\x01"}) {
    BOOST_TEST_CONTEXT(bad) {
      try {
        decode_base64(bad, "p");
        BOOST_FAIL("accepted");
      } catch (const ApiError& e) {
        BOOST_TEST(e.status() == 400);
      }
    }
  }
}

// As the base64 tool writes it (lines of 76), and the URL-safe alphabet.
BOOST_AUTO_TEST_CASE(base64_with_line_breaks_and_url_safe_letters) {
  const auto bytes = test::read_bytes(kPng);
  const std::string plain = test::base64(bytes);
  std::string wrapped;
  for (size_t i = 0; i < plain.size(); i += 76) wrapped += plain.substr(i, 76) + "\n";
  BOOST_TEST(wrapped.find('\n') < plain.size());
  BOOST_TEST(decode_base64(wrapped, "p") == bytes, boost::test_tools::per_element());
  std::string crlf = "\r\n" + plain.substr(0, 76) + "\r\n " + plain.substr(76) + "\r\n";
  BOOST_TEST(decode_base64(crlf, "p") == bytes, boost::test_tools::per_element());
  std::string url_safe = plain;
  for (char& c : url_safe) c = c == '+' ? '-' : c == '/' ? '_' : c;
  BOOST_TEST(url_safe != plain);  // the test image has both letters
  BOOST_TEST(decode_base64(url_safe, "p") == bytes, boost::test_tools::per_element());
  BOOST_TEST(load_image("data:image/png;base64," + wrapped, {}, "p") == bytes, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(data_uris_in_any_case_and_their_media_types) {
  const auto bytes = test::read_bytes(kPng);
  const std::string b64 = test::base64(bytes);
  BOOST_TEST(status("DATA:image/png;base64," + b64) == 0);
  BOOST_TEST(status("Data:IMAGE/PNG;BASE64," + b64) == 0);
  BOOST_TEST(status("data:application/octet-stream;base64," + b64) == 0);
  BOOST_TEST(status("data:;base64," + b64) == 0);  // no type: the bytes decide
  BOOST_TEST(status("data:image/jpeg;base64," + b64) == 0);  // the bytes decide the format
  for (const std::string type : {"text/plain", "application/pdf", "video/mp4", "text/html;charset=utf-8"}) {
    BOOST_TEST_CONTEXT(type) {
      BOOST_TEST(status("data:" + type + ";base64," + b64) == 415);
      try {
        load_image("data:" + type + ";base64," + b64, {}, "p");
      } catch (const ApiError& e) {
        BOOST_TEST(std::string(e.what()).find(b64.substr(0, 20)) == std::string::npos, e.what());  // never the data
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(data_uris) {
  const auto bytes = test::read_bytes(kPng);
  BOOST_TEST(load_image(test::data_uri(kPng), {}, "p") == bytes, boost::test_tools::per_element());
  BOOST_TEST(status("data:image/png," + test::base64(bytes)) == 400);  // not base64
  BOOST_TEST(status("data:image/png;base64") == 400);                  // no comma
  BOOST_TEST(status("data:image/png;base64,bm90IGFuIGltYWdl") == 422);  // "not an image"
  BOOST_TEST(status("data:image/png;base64,") == 422);
  MediaPolicy small;
  small.max_image_bytes = bytes.size() - 1;
  BOOST_TEST(status(test::data_uri(kPng), small) == 413);
}

BOOST_AUTO_TEST_CASE(corrupt_and_truncated_images_are_422) {
  auto png = test::read_bytes(kPng);
  png.resize(20);  // the header cut short: its size is unknown
  BOOST_TEST(status("data:image/png;base64," + test::base64(png)) == 422);
  auto jpeg = test::read_bytes(test::data_dir() + "/image/pillow/jpeg_47x53.jpg");
  jpeg[0] = 0;
  BOOST_TEST(status("data:image/jpeg;base64," + test::base64(jpeg)) == 422);
}

BOOST_AUTO_TEST_CASE(declared_size_over_the_pixel_cap_is_422_before_decoding) {
  MediaPolicy policy;
  policy.max_pixels = 37 * 23;
  BOOST_TEST(status(test::data_uri(kPng), policy) == 0);
  policy.max_pixels = 37 * 23 - 1;
  BOOST_TEST(status(test::data_uri(kPng), policy) == 422);
  // A PNG header declaring 100000 x 100000 pixels, with no pixel data at all.
  auto bomb = test::read_bytes(kPng);
  bomb.resize(33);
  for (int i = 0; i < 2; ++i) {
    const uint32_t v = 100000;
    bomb[16 + 4 * i] = uint8_t(v >> 24), bomb[17 + 4 * i] = uint8_t(v >> 16), bomb[18 + 4 * i] = uint8_t(v >> 8),
    bomb[19 + 4 * i] = uint8_t(v);
  }
  try {
    load_image("data:image/png;base64," + test::base64(bomb), {}, "p");
    BOOST_FAIL("accepted");
  } catch (const ApiError& e) {
    BOOST_TEST(e.status() == 422);
    BOOST_TEST(std::string(e.what()).find("100000x100000") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(no_outbound_fetches) {
  BOOST_TEST(status("http://example.com/cat.png") == 400);
  BOOST_TEST(status("https://example.com/cat.png") == 400);
  BOOST_TEST(status("HTTPS://example.com/cat.png") == 400);
  BOOST_TEST(status("ftp://example.com/cat.png") == 400);
}

// An empty url says so, not that file paths are refused.
BOOST_AUTO_TEST_CASE(an_empty_url_is_named_as_such) {
  BOOST_TEST(status("") == 400);
  try {
    load_image("", MediaPolicy{}, "image_url");
  } catch (const ApiError& e) {
    BOOST_TEST(std::string(e.what()) == "the image's url is empty (send a data: URI)");
  }
}

// The message of load_image's refusal.
std::string message_of(const std::string& url, const MediaPolicy& policy) {
  try {
    load_image(url, policy, "image_url");
  } catch (const ApiError& e) {
    return e.what();
  }
  return "";
}

BOOST_AUTO_TEST_CASE(file_urls_as_clients_send_them) {
  test::TempDir tmp("http-media-urls");
  const auto dir = tmp.path() / "media";
  std::filesystem::create_directories(dir / "my photos");
  std::filesystem::copy_file(kPng, dir / "my photos" / "a b%.png");
  MediaPolicy policy;
  policy.allowed_dir = dir;
  const std::string abs = (dir / "my photos").string();
  BOOST_TEST(status("file://localhost" + abs + "/a%20b%25.png", policy) == 0);
  BOOST_TEST(status("FILE://" + abs + "/a%20b%25.png", policy) == 0);
  BOOST_TEST(status("file://" + abs + "/a b%25.png", policy) == 0);
  BOOST_TEST(status("my photos/a b%.png", policy) == 0);  // a plain path is not percent-decoded
  BOOST_TEST(status("file://otherhost" + abs + "/a%20b%25.png", policy) == 400);
  BOOST_TEST(status("file://" + abs + "/a%2", policy) == 400);
  BOOST_TEST(status("file://" + abs + "/a%00.png", policy) == 400);
}

BOOST_AUTO_TEST_CASE(outside_paths_get_one_error_and_no_server_path_is_printed) {
  test::TempDir tmp("http-media-outside");
  const auto dir = tmp.path() / "media";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kPng, tmp.path() / "exists.png");
  MediaPolicy policy;
  policy.allowed_dir = dir;
  const std::string there = message_of("../exists.png", policy);
  BOOST_TEST(!there.empty());
  BOOST_TEST(there == message_of("../missing.png", policy));
  BOOST_TEST(there == message_of((tmp.path() / "exists.png").string(), policy));
  BOOST_TEST(there == message_of("file://" + (tmp.path() / "missing.png").string(), policy));
  BOOST_TEST(there == message_of("/etc/passwd", policy));
  for (const std::string& url : {std::string("missing.png"), std::string("sub/missing.png"), (dir / "missing.png").string(),
                                 std::string("../exists.png"), std::string(".")}) {
    BOOST_TEST_CONTEXT(url) {
      const std::string m = message_of(url, policy);
      BOOST_TEST(!m.empty());
      BOOST_TEST(m.find(tmp.path().string()) == std::string::npos, m);
    }
  }
  BOOST_TEST(message_of("sub/missing.png", policy).find("sub/missing.png") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(files_only_inside_the_allowed_directory) {
  test::TempDir tmp("http-media");
  const auto dir = tmp.path() / "media";
  std::filesystem::create_directories(dir / "sub");
  std::filesystem::create_directories(tmp.path() / "media2");
  std::filesystem::copy_file(kPng, dir / "sub" / "a.png");
  std::filesystem::copy_file(kPng, tmp.path() / "media2" / "b.png");
  std::filesystem::copy_file(kPng, tmp.path() / "outside.png");
  std::filesystem::create_symlink(tmp.path() / "outside.png", dir / "link.png");
  BOOST_TEST(status((dir / "sub" / "a.png").string()) == 400);  // no --allowed-media-dir
  MediaPolicy policy;
  policy.allowed_dir = dir;
  BOOST_TEST(status((dir / "sub" / "a.png").string(), policy) == 0);
  BOOST_TEST(status("file://" + (dir / "sub" / "a.png").string(), policy) == 0);
  BOOST_TEST(status("sub/a.png", policy) == 0);  // relative to the directory
  BOOST_TEST(status("../outside.png", policy) == 400);
  BOOST_TEST(status("sub/../../outside.png", policy) == 400);
  BOOST_TEST(status((tmp.path() / "media2" / "b.png").string(), policy) == 400);  // a sibling with the same prefix
  BOOST_TEST(status("link.png", policy) == 400);                                  // a link out of it
  BOOST_TEST(status("missing.png", policy) == 400);
  BOOST_TEST(status("sub", policy) == 400);  // a directory
  BOOST_TEST(load_image("sub/a.png", policy, "p") == test::read_bytes(kPng), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
