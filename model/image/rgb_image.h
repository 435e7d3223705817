// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pio {

struct RgbImage {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> pixels;  // height * width * 3

  const uint8_t* at(int64_t y, int64_t x) const { return &pixels[size_t((y * width + x) * 3)]; }
};

}  // namespace pio
