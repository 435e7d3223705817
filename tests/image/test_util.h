// Helpers shared by the image tests: test data paths, file bytes, reference PNGs, encoding.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/image/rgb_image.h"

namespace pio::test {

std::filesystem::path image_data_dir();  // tests/data/image
std::vector<uint8_t> read_bytes(const std::filesystem::path& path);
// A reference image through OpenCV directly (not pio's decoder), as 8-bit RGB.
RgbImage read_reference_png(const std::filesystem::path& path);
// Encodes an RGB image losslessly, e.g. ".png" or ".bmp".
std::vector<uint8_t> encode_rgb(const RgbImage& img, const std::string& ext);
RgbImage make_rgb(int64_t width, int64_t height, uint8_t (*value)(int64_t x, int64_t y, int c));

}  // namespace pio::test
