#include "model/generate.h"

#include <algorithm>
#include <chrono>

#include "model/errors.h"
#include "model/prefill_batch.h"

namespace pio {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Releases the sequence's KV blocks however generation ends.
struct SequenceGuard {
  KvBlockPool& pool;
  SequenceId seq;
  ~SequenceGuard() { pool.release(seq); }
};

}  // namespace

GenerateResult generate(TextModel& model, PagedKvCache& cache, const PreparedPrompt& prompt,
                        const GenerateOptions& options) {
  if (prompt.ids.empty()) throw ModelError("the prompt has no tokens");
  const SequenceGuard guard{cache.pool(), cache.pool().add_sequence()};
  Sampler sampler(options.sampling, prompt.ids);
  GenerateResult result;
  result.seed = sampler.seed();
  result.tokens.reserve(static_cast<size_t>(std::max(options.max_tokens, 0)));
  auto t0 = std::chrono::steady_clock::now();
  const PrefillEntry entry{&prompt, {}, false};
  const PrefillBatch prefill(model, {&entry, 1});
  // The decode step's batch is built once; each step only rewrites its id and position.
  int32_t next = 0;
  Pos3 position;
  ForwardBatch decode;
  decode.steps.push_back({1, false, {}, 0});
  decode.ids = {&next, 1};
  decode.positions = {&position, 1};
  const ForwardBatch* batch = &prefill.batch();
  const int64_t vocab = model.config().vocab_size;
  const int64_t candidates = options.id_limit > 0 ? std::min<int64_t>(options.id_limit, vocab) : vocab;
  int32_t pos = prompt.next_position;  // decode positions continue from max + 1 (rope_delta)
  while (static_cast<int>(result.tokens.size()) < options.max_tokens) {
    const auto logits = cache.forward(model, *batch, {&guard.seq, 1});
    next = sampler.next(logits.subspan(0, static_cast<size_t>(candidates)));
    if (result.tokens.empty()) {
      result.prefill_seconds = seconds_since(t0);
      t0 = std::chrono::steady_clock::now();
    }
    result.tokens.push_back(next);
    if (options.on_token) options.on_token(next);
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end()) break;
    position = {pos, pos, pos};
    ++pos;
    batch = &decode;
  }
  result.decode_seconds = seconds_since(t0);
  return result;
}

}  // namespace pio
