// `pio chat`: one image+text turn end to end — chat template, image preprocessing, vision
// encoder, prefill and decode — streaming the answer to stdout.
#include <algorithm>
#include <iostream>

#include "apps/pio/chat_prompt.h"
#include "apps/pio/cli_util.h"
#include "apps/pio/commands.h"
#include "apps/pio/image_inputs.h"
#include "model/generate.h"
#include "model/model.h"
#include "model/tokenizer/stream_detokenizer.h"
#include "model/tokenizer/tokenizer.h"

namespace pio::cli {

void add_chat(CLI::App& app) {
  auto* cmd = app.add_subcommand("chat", "Ask about images and stream the model's answer");
  struct Args {
    std::string model, prompt, system;
    int max_tokens = 256, threads = 0;
    SamplingOptions sampling;
    int64_t kv_mb = kDefaultKvBudgetMb;
    bool verbose = false;
    ImageArgs image;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--model", a->model, "model directory")->required();
  cmd->add_option("--prompt", a->prompt, "the user's text")->required();
  cmd->add_option("--system", a->system, "system prompt");
  cmd->add_option("--max-tokens", a->max_tokens, "most tokens to generate")->default_val(256)->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", a->sampling.temperature, "0: greedy")->default_val(0.0f)->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", a->sampling.top_p, "nucleus sampling mass")->default_val(1.0f)->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--top-k", a->sampling.top_k, "0: no limit")->default_val(0)->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", a->sampling.seed, "sampling seed")->default_val(0);
  cmd->add_option("--threads", a->threads, "compute threads (0: all cores)")->default_val(0);
  cmd->add_option("--kv-cache-mb", a->kv_mb, "KV cache budget in MiB")->default_val(kDefaultKvBudgetMb);
  cmd->add_flag("--verbose", a->verbose, "print timings to stderr at the end");
  add_image_options(cmd, a->image, false);
  cmd->callback([a] {
    const auto tokenizer = load_tokenizer(a->model);
    const auto ids = single_turn_chat_ids(*tokenizer, a->system, a->prompt, a->image.images.size());
    ImageTimings timings;
    LoadedPrompt run(a->model, a->threads, ids, a->image, &timings);
    Model& model = run.model;
    const PreparedPrompt& prompt = run.prompt;
    PagedKvCache cache(model.text().kv_shape(), a->kv_mb << 20);
    StreamDetokenizer detok(*tokenizer);
    const auto& stops = model.stop_ids();
    GenerateOptions options{a->max_tokens, stops, a->sampling, tokenizer->vocab_size(), [&](int32_t id) {
                              if (std::find(stops.begin(), stops.end(), id) != stops.end()) return;
                              std::cout << detok.push(id) << std::flush;
                            }};
    const GenerateResult r = generate(model.text(), cache, prompt, options);
    std::cout << detok.finish() << std::endl;
    if (a->verbose) {
      const auto n = static_cast<double>(r.tokens.size());
      std::cerr << "prompt tokens: " << prompt.ids.size() << ", images: " << a->image.images.size()
                << ", generated: " << r.tokens.size() << "\n"
                << "preprocess: " << timings.preprocess_s * 1000 << " ms, vision encode: " << timings.encode_s * 1000
                << " ms, prefill (to first token): " << r.prefill_seconds * 1000 << " ms, decode: "
                << (n > 1 ? (n - 1) / r.decode_seconds : 0.0) << " tok/s\n";
    }
  });
}

}  // namespace pio::cli
