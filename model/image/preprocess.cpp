#include "model/image/preprocess.h"

#include <fstream>
#include <iterator>
#include <string>

#include "model/errors.h"
#include "model/image/bicubic_resize.h"
#include "model/image/decode.h"
#include "model/image/image_probe.h"
#include "model/image/patchify.h"
#include "model/image/smart_resize.h"

namespace pio {

PixelValues preprocess_image(std::span<const uint8_t> encoded, const PreprocessorConfig& cfg,
                             const ImageLimits& limits) {
  if (limits.max_pixels <= 0 || limits.min_pixels <= 0) {  // min 0 could round to 0x0
    throw ModelError("image pixel limits must be positive");
  }
  // Refuse from the header alone: a small file can declare a huge image.
  const ImageHeader header = probe_image(encoded);
  check_image_dims(header.height, header.width);
  if (header.width > limits.max_decoded_pixels / header.height) {  // w*h could overflow
    throw ModelError(std::string(format_name(header.format)) + " image of " +
                     std::to_string(header.width) + "x" + std::to_string(header.height) +
                     " pixels exceeds the limit of " + std::to_string(limits.max_decoded_pixels) +
                     " pixels");
  }
  return preprocess_rgb(decode_rgb(encoded, header), cfg, limits);
}

PixelValues preprocess_rgb(const RgbImage& rgb, const PreprocessorConfig& cfg, const ImageLimits& limits) {
  check_image_dims(rgb.height, rgb.width);
  const ResizedSize size = smart_resize(rgb.height, rgb.width, cfg.resize_factor(),
                                        limits.min_pixels, limits.max_pixels);
  return patchify(resize_bicubic(rgb, size.width, size.height), cfg);
}

std::vector<uint8_t> read_image_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("cannot open image file " + path.string());
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw ModelError("cannot read image file " + path.string());
  return bytes;
}

}  // namespace pio
