#include <fstream>
#include <iomanip>

#include "apps/pio/cli_util.h"
#include "apps/pio/commands.h"
#include "apps/pio/image_inputs.h"
#include "apps/pio/option_checks.h"
#include "model/errors.h"
#include "model/prefill_batch.h"

namespace pio::cli {

void add_logits(CLI::App& app) {
  auto* cmd = app.add_subcommand("logits", "Write the float32 logits of every prompt position as JSON");
  struct Args {
    std::string model, ids, out, kv_dtype, weights = "auto";
    DeviceArgs device;
    int threads = 0;
    ImageArgs image;
  };
  auto a = std::make_shared<Args>();
  add_model_option(cmd, a->model)->required();
  cmd->add_option("--ids", a->ids, "token ids, comma separated")->required();
  cmd->add_option("--out", a->out, "output JSON file")->required();
  add_threads_option(cmd, a->threads);
  add_device_options(cmd, a->device);
  add_weights_option(cmd, a->weights);
  add_kv_dtype_option(cmd, a->kv_dtype);
  add_image_options(cmd, a->image, true);
  cmd->callback([a] {
    LoadedPrompt run(a->model, ComputeBackends(a->device, a->threads, false, "pio"),
                     model_options(a->weights), 0, parse_ids(a->ids), a->image);
    const PreparedPrompt& prompt = run.prompt;
    const auto n = static_cast<int64_t>(prompt.ids.size());
    PagedKvCache cache = sequence_kv_cache(run.text, n, 0, "--ids", 0, a->kv_dtype);
    const int64_t vocab = run.weights.config().text.vocab_size;
    // Every position's logits are kept: n x vocab floats must fit the machine (n <= context).
    if (n * vocab > (physical_memory_mb() << 20) / int64_t{sizeof(float)})
      throw CLI::ValidationError("--ids", std::to_string(n) + " positions of " + std::to_string(vocab) +
                                              " logits are more than the machine's memory holds");
    const PrefillEntry entry{&prompt, {}, true};
    const SequenceId seq = cache.pool().add_sequence();
    const auto logits = cache.forward(run.text, PrefillBatch(run.text, {&entry, 1}).batch(), {&seq, 1});
    std::ofstream out(a->out);
    if (!out) throw ModelError(a->out + ": cannot write");
    out << std::setprecision(9) << "{\"logits\": [";
    for (int64_t r = 0; r < n; ++r) {
      out << (r ? ",\n[" : "\n[");
      for (int64_t c = 0; c < vocab; ++c) out << (c ? "," : "") << logits[static_cast<size_t>(r * vocab + c)];
      out << "]";
    }
    out << "]}\n";
  });
}

}  // namespace pio::cli
