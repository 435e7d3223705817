#include "tests/image/test_util.h"

#include <fstream>
#include <iterator>
#include <stdexcept>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace pio::test {

std::filesystem::path image_data_dir() { return std::filesystem::path(PIO_TEST_DATA_DIR) / "image"; }

std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

RgbImage read_reference_png(const std::filesystem::path& path) {
  const cv::Mat bgr = cv::imread(path.string(), cv::IMREAD_COLOR);
  if (bgr.empty()) throw std::runtime_error("cannot read " + path.string());
  RgbImage img{bgr.cols, bgr.rows, std::vector<uint8_t>(size_t(bgr.total()) * 3)};
  cv::Mat rgb(bgr.rows, bgr.cols, CV_8UC3, img.pixels.data());
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return img;
}

std::vector<uint8_t> encode_rgb(const RgbImage& img, const std::string& ext) {
  const cv::Mat rgb(int(img.height), int(img.width), CV_8UC3,
                    const_cast<uint8_t*>(img.pixels.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> out;
  if (!cv::imencode(ext, bgr, out)) throw std::runtime_error("cannot encode " + ext);
  return out;
}

RgbImage make_rgb(int64_t width, int64_t height, uint8_t (*value)(int64_t x, int64_t y, int c)) {
  RgbImage img{width, height, std::vector<uint8_t>(size_t(width * height * 3))};
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) img.pixels[size_t((y * width + x) * 3 + c)] = value(x, y, c);
    }
  }
  return img;
}

}  // namespace pio::test
