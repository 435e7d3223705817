#include "apps/pio/node_requests.h"

#include <future>
#include <iostream>
#include <stdexcept>

#include "apps/pio/option_checks.h"
#include "model/image/preprocess.h"

namespace pio::cli {

ChatRequest one_turn_request(const std::optional<std::string>& system, const std::vector<std::string>& images,
                             const std::string& prompt) {
  ChatRequest r;
  if (system) r.messages.push_back({"system", {{*system, {}, false}}});
  ChatTurn user{"user", {}};
  for (const auto& path : images) user.parts.push_back({"", read_image_file(path), true});
  user.parts.push_back({prompt, {}, false});
  r.messages.push_back(std::move(user));
  return r;
}

ChatRequest conversation_request(const ParsedChat& chat) {
  ChatRequest r;
  size_t next_image = 0;
  for (const auto& m : chat.messages) {
    ChatTurn turn{m.role, {}};
    for (const auto& part : m.content) {
      if (part.kind == ChatPart::Kind::text) turn.parts.push_back({part.text, {}, false});
      else turn.parts.push_back({"", read_image_file(chat.image_paths.at(next_image++)), true});
    }
    r.messages.push_back(std::move(turn));
  }
  return r;
}

void stream_from_node(const std::string& host_port, const ClientOptions& options, ChatRequest request, bool verbose) {
  const auto [host, port] = split_host_port(host_port);
  const auto client = Client::connect(host, port, options);
  std::promise<StreamEvent> done;
  client->submit(std::move(request), [&done](const StreamEvent& e) {
    std::cout << e.text << std::flush;
    if (e.final) done.set_value(e);
  });
  const StreamEvent last = done.get_future().get();
  std::cout << std::endl;
  if (last.finish_reason == "error") throw std::runtime_error(last.error.message);
  if (verbose) {
    const StageTimings& t = last.timings;
    std::cerr << "prompt tokens: " << last.usage.prompt_tokens << ", generated: " << last.usage.completion_tokens
              << ", finish: " << last.finish_reason << "\n"
              << "queue: " << t.queue_ms << " ms, preprocess: " << t.preprocess_ms << " ms, vision encode: " << t.vision_ms
              << " ms, prefill (to first token): " << t.prefill_ms << " ms, time to first token: " << t.ttft_ms
              << " ms, total: " << t.total_ms << " ms\n";
    if (last.seed) std::cerr << "seed: " << *last.seed << "\n";
    std::cerr << "prompt tokens from the prefix cache: " << last.usage.cached_tokens << "\n";
  }
}

}  // namespace pio::cli
