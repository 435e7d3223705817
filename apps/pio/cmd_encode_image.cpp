#include <iostream>

#include "apps/pio/cli_util.h"
#include "apps/pio/commands.h"
#include "apps/pio/image_inputs.h"
#include "apps/pio/option_checks.h"
#include "model/model_weights.h"

namespace pio::cli {

void add_encode_image(CLI::App& app) {
  auto* cmd = app.add_subcommand("encode-image",
                                 "Run preprocessing and the vision encoder; write image_embeds, deepstack, grid_thw");
  struct Args {
    std::string model, out;
    int threads = 0;
    ImageArgs image;
  };
  auto a = std::make_shared<Args>();
  add_model_option(cmd, a->model)->required();
  cmd->add_option("--out", a->out, "output .safetensors file")->required();
  add_threads_option(cmd, a->threads);
  add_image_options(cmd, a->image, false);
  cmd->callback([a] {
    if (a->image.images.empty()) throw std::invalid_argument("encode-image needs at least one --image");
    auto backend = make_cpu_backend(a->threads);
    const ModelWeights weights(a->model);
    const auto features = image_features(weights, *backend, a->model, a->image);
    write_image_features(a->out, *features);
    std::cerr << "wrote " << features->tokens << " image tokens of " << a->image.images.size() << " image(s) to "
              << a->out << "\n";
  });
}

}  // namespace pio::cli
