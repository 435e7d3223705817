// `pio chat`: one image+text turn (or a --messages conversation) end to end — chat template,
// image preprocessing, vision encoder, prefill and decode — streaming the answer to stdout.
#include <algorithm>
#include <iostream>

#include "apps/pio/chat_prompt.h"
#include "apps/pio/cli_util.h"
#include "apps/pio/commands.h"
#include "apps/pio/image_inputs.h"
#include "apps/pio/node_requests.h"
#include "apps/pio/option_checks.h"
#include "model/generate.h"
#include "model/tokenizer/stream_detokenizer.h"
#include "model/tokenizer/tokenizer.h"

namespace pio::cli {

void add_chat(CLI::App& app) {
  auto* cmd = app.add_subcommand("chat", "Ask about images and stream the model's answer");
  struct Args {
    std::string weights = "auto";
    std::string model, prompt, system, messages, node;
    DeviceArgs device;
    int max_tokens = 256, threads = 0;
    SamplingOptions sampling;
    int64_t kv_mb = kDefaultKvBudgetMb;
    std::string kv_dtype;
    bool verbose = false, show_special = false;
    ImageArgs image;
    ClientOptions client;
  };
  auto a = std::make_shared<Args>();
  auto* model_dir = add_model_option(cmd, a->model);
  auto* node = cmd->add_option("--node", a->node, "stream the answer from a running pio-node instead (HOST:PORT)")
                   ->check(host_port());
  model_dir->excludes(node);
  for (auto* tls : add_tls_options(cmd, a->client.tls)) tls->needs(node);
  auto* prompt = cmd->add_option("--prompt", a->prompt, "the user's text (or --messages)");
  auto* system = cmd->add_option("--system", a->system, "system prompt (\"\" gives an empty system turn)");
  auto* messages = cmd->add_option("--messages", a->messages,
                                   "JSON file: an OpenAI-style messages array, instead of --prompt, --system and "
                                   "--image (content: a string or parts {\"type\": \"text\", \"text\": ...} and "
                                   "{\"type\": \"image\", \"image\": PATH})");
  auto* max_tokens = add_max_tokens_option(cmd, a->max_tokens, 256);
  add_sampling_options(cmd, a->sampling);
  // What computes is the node's own choice: asking for it here with --node is a usage error, not
  // silently ignored.
  add_threads_option(cmd, a->threads)->excludes(node);
  for (CLI::Option* o : add_device_options(cmd, a->device)) o->excludes(node);
  add_weights_option(cmd, a->weights)->excludes(node);
  add_kv_cache_option(cmd, a->kv_mb)->excludes(node);
  add_kv_dtype_option(cmd, a->kv_dtype)->excludes(node);
  cmd->add_flag("--show-special-tokens", a->show_special,
                "print special tokens such as <|image_pad|> the model generates (default: skipped, as "
                "skip_special_tokens=True)");
  cmd->add_flag("--verbose", a->verbose, "print timings to stderr at the end");
  auto* image = add_image_options(cmd, a->image, false);
  messages->excludes(prompt)->excludes(system)->excludes(image);
  cmd->callback([a, prompt, system, messages, node, max_tokens] {
    if (prompt->count() == 0 && messages->count() == 0) throw CLI::RequiredError("--prompt or --messages");
    if (node->count() > 0) {
      ChatRequest request = messages->count() > 0
                                ? conversation_request(read_chat_messages_file(a->messages))
                                : one_turn_request(system->count() > 0 ? std::optional(a->system) : std::nullopt,
                                                   a->image.images, a->prompt);
      request.client_id = "pio-chat";
      request.max_tokens = a->max_tokens;
      request.clip_max_tokens = max_tokens->count() == 0;  // the default is lowered to what fits the context
      request.sampling = a->sampling;
      request.max_pixels = a->image.max_pixels;
      request.show_special_tokens = a->show_special;
      stream_from_node(a->node, a->client, std::move(request), a->verbose);
      return;
    }
    if (a->model.empty()) throw CLI::RequiredError("--model or --node");
    const auto tokenizer = load_tokenizer(a->model);
    std::vector<int32_t> ids;
    if (messages->count() > 0) {
      ParsedChat chat = read_chat_messages_file(a->messages);
      ids = encode_chat(*tokenizer, render_chat(chat.messages));
      a->image.images = std::move(chat.image_paths);
    } else {
      ids = single_turn_chat_ids(*tokenizer, system->count() > 0 ? std::optional(a->system) : std::nullopt,
                                 a->prompt, a->image.images.size());
    }
    ImageTimings timings;
    LoadedPrompt run(a->model, ComputeBackends(a->device, a->threads, false, "pio"),
                     model_options(a->weights), a->kv_mb << 20, ids, a->image, &timings);
    const PreparedPrompt& prompt_ids = run.prompt;
    const auto prompt_tokens = static_cast<int64_t>(prompt_ids.ids.size());
    // Without --max-tokens the default is lowered to what fits, as over --node; a prompt that
    // leaves no room even for one token is refused naming where it came from.
    if (max_tokens->count() == 0) {
      const int64_t room = new_tokens_that_fit(run.text, prompt_tokens, a->kv_mb, a->kv_dtype);
      a->max_tokens = static_cast<int>(std::clamp<int64_t>(room, 1, a->max_tokens));
    }
    const std::string length_option = max_tokens->count() > 0 ? "--max-tokens"
                                      : messages->count() > 0  ? "--messages"
                                      : a->image.images.empty() ? "--prompt"
                                                                : "--prompt and --image";
    PagedKvCache cache =
        sequence_kv_cache(run.text, prompt_tokens, a->max_tokens, length_option, a->kv_mb, a->kv_dtype);
    StreamDetokenizer detok(*tokenizer, a->show_special ? SpecialTokens::show : SpecialTokens::skip);
    const auto& stops = run.weights.stop_ids();
    GenerateOptions options{a->max_tokens, stops, a->sampling, tokenizer->vocab_size(), [&](int32_t id) {
                              if (std::find(stops.begin(), stops.end(), id) != stops.end()) return;
                              std::cout << detok.push(id) << std::flush;
                            }};
    const GenerateResult r = generate(run.text, cache, prompt_ids, options);
    std::cout << detok.finish() << std::endl;
    if (a->verbose) {
      const auto n = static_cast<double>(r.tokens.size());
      std::cerr << "prompt tokens: " << prompt_ids.ids.size() << ", images: " << a->image.images.size()
                << ", generated: " << r.tokens.size() << "\n"
                << "preprocess: " << timings.preprocess_s * 1000 << " ms, vision encode: " << timings.encode_s * 1000
                << " ms, prefill (to first token): " << r.prefill_seconds * 1000 << " ms, decode: "
                << (n > 1 ? (n - 1) / r.decode_seconds : 0.0) << " tok/s\n"
                << "seed: " << r.seed << "\n";
    }
  });
}

}  // namespace pio::cli
