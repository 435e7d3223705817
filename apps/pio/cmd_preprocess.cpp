// pio preprocess: what the vision encoder receives for one image, as JSON. Needs only the
// model directory's preprocessor_config.json, no weights.
#include <charconv>
#include <fstream>
#include <memory>
#include <string>

#include "apps/pio/commands.h"
#include "apps/pio/option_checks.h"
#include "model/errors.h"
#include "model/image/preprocess.h"

namespace pio::cli {
namespace {

// Shortest text that reads back as the same float32.
void write_float(std::ostream& out, float v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.write(buf, r.ptr - buf);
}

void write_pixel_values_json(const PixelValues& pv, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw ModelError(path + ": cannot write");
  out << "{\"grid_thw\": [" << pv.grid_t << ", " << pv.grid_h << ", " << pv.grid_w
      << "], \"pixel_values\": [";
  const int64_t width = pv.row_width();
  for (int64_t r = 0; r < pv.rows(); ++r) {
    out << (r ? ",\n[" : "\n[");
    for (int64_t c = 0; c < width; ++c) {
      if (c) out << ',';
      write_float(out, pv.data[size_t(r * width + c)]);
    }
    out << ']';
  }
  out << "]}\n";
  if (!out) throw ModelError(path + ": write failed");
}

}  // namespace

void add_preprocess(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "preprocess", "Write an image's pixel_values and grid_thw (the vision encoder's input) as JSON");
  struct Args {
    std::string model, image, out;
    int64_t max_pixels = 0;  // 0: the config's
  };
  auto a = std::make_shared<Args>();
  add_model_option(cmd, a->model, "model directory (only preprocessor_config.json is read)")->required();
  cmd->add_option("--image", a->image, "image file: PNG, JPEG, WebP, GIF or BMP")->required();
  add_max_pixels_option(cmd, a->max_pixels);
  cmd->add_option("--out", a->out, "output JSON file")->required();
  cmd->callback([a] {
    const PreprocessorConfig cfg = load_preprocessor_config(a->model);
    ImageLimits limits = ImageLimits::from_config(cfg);
    if (a->max_pixels > 0) limits.max_pixels = a->max_pixels;
    const PixelValues pv = preprocess_image(read_image_file(a->image), cfg, limits);
    write_pixel_values_json(pv, a->out);
  });
}

}  // namespace pio::cli
