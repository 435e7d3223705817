#include <iostream>

#include "apps/pio/cli_util.h"
#include "apps/pio/commands.h"
#include "apps/pio/image_inputs.h"
#include "apps/pio/option_checks.h"
#include "model/generate.h"

namespace pio::cli {

void add_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Greedy generation from token ids; prints the new ids as a JSON array");
  struct Args {
    std::string weights = "auto";
    std::string model, ids;
    DeviceArgs device;
    int max_tokens = 16, threads = 0;
    int64_t kv_mb = kDefaultKvBudgetMb;
    std::string kv_dtype;
    ImageArgs image;
  };
  auto a = std::make_shared<Args>();
  add_model_option(cmd, a->model)->required();
  cmd->add_option("--ids", a->ids, "prompt token ids, comma separated; image placeholders are filled from --image")
      ->required();
  add_max_tokens_option(cmd, a->max_tokens, 16);
  add_threads_option(cmd, a->threads);
  add_device_options(cmd, a->device);
  add_weights_option(cmd, a->weights);
  add_kv_cache_option(cmd, a->kv_mb);
  add_kv_dtype_option(cmd, a->kv_dtype);
  add_image_options(cmd, a->image, true);
  cmd->callback([a] {
    LoadedPrompt run(a->model, ComputeBackends(a->device, a->threads, false, "pio"),
                     model_options(a->weights), a->kv_mb << 20, parse_ids(a->ids), a->image);
    PagedKvCache cache = sequence_kv_cache(run.text, static_cast<int64_t>(run.prompt.ids.size()),
                                           a->max_tokens, "--max-tokens", a->kv_mb, a->kv_dtype);
    const auto out = generate(run.text, cache, run.prompt, {a->max_tokens, run.weights.stop_ids(), {}, 0, {}});
    std::cout << ids_to_json(out.tokens) << std::endl;
  });
}

}  // namespace pio::cli
