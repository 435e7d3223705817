#include "serving/engine_core.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "gpu/backend_error.h"
#include "model/kv_cache.h"
#include "model/prefill_batch.h"
#include "serving/json_schema.h"
#include "serving/prefix_keys.h"

namespace pio {
namespace {

constexpr size_t kGrammarsKept = 16;  // compiled schemas kept for later requests (each caches up to 64 masks, 19 KB each)

}  // namespace

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::none: return "none";
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::cancelled: return "cancelled";
    case FinishReason::error: return "error";
  }
  return "none";
}

EngineCore::EngineCore(TextModel& text, const ModelConfig& config, KvStorage& kv, BatchLimits limits,
                       std::unique_ptr<SchedulingPolicy> policy, int32_t id_limit, std::shared_ptr<TieredCache> store)
    : text_(text),
      config_(config),
      kv_(kv),
      store_(std::move(store)),
      scheduler_({limits.max_batch_tokens, limits.max_sequences, kv.block_size(), kv.total_blocks()}, std::move(policy)),
      candidates_(id_limit > 0 ? std::min<int64_t>(id_limit, text.config().vocab_size) : text.config().vocab_size) {
  if (store_) scheduler_.set_prefix_attach([this](uint64_t id, SequenceId seq) { attach_prefix(id, seq); });
}

int64_t EngineCore::submit(EngineRequest request) {
  const uint64_t id = request.queue.id;
  if (active_.count(id)) throw std::invalid_argument("request id " + std::to_string(id) + " is already running");
  const auto resumed = static_cast<int32_t>(request.resumed.size());
  if (request.max_tokens <= resumed) throw std::invalid_argument("max_tokens must exceed the tokens already generated");
  std::shared_ptr<GrammarMasks> grammar;
  std::optional<GrammarMatcher> matcher;
  if (!request.structured.schema.empty()) {
    grammar = grammar_for(request.structured);
    matcher = grammar->start();
    for (int32_t id : request.resumed)
      if (id < 0 || id >= grammar->vocabulary().size() || grammar->vocabulary().bytes(id).empty() ||
          !matcher->advance(grammar->vocabulary().bytes(id)))
        throw std::invalid_argument("resumed token " + std::to_string(id) + " does not follow the response schema");
  }
  PreparedPrompt known = prepare_prompt(text_, config_, request.ids, request.images.get());
  const auto prompt_tokens = static_cast<int64_t>(known.ids.size());
  Sampler sampler(request.sampling, known.ids, request.resumed);
  for (int32_t k = 0; k < resumed; ++k) {  // as sample() appends them
    const int32_t pos = known.next_position + k;
    known.ids.push_back(request.resumed[static_cast<size_t>(k)]);
    known.positions.push_back({pos, pos, pos});
  }
  // A default max_tokens (the client named none) is lowered to what the KV cache holds beside the
  // prompt, as the context check lowered it to the context (serving/context_limit.h).
  const int64_t room = scheduler_.capacity_tokens() - static_cast<int64_t>(known.ids.size()) + resumed;
  if (request.clip_max_tokens && room <= resumed)
    throw std::invalid_argument(std::to_string(known.ids.size()) + " prompt tokens leave no room in the KV cache's " +
                                std::to_string(scheduler_.capacity_tokens()) + " slots: send a shorter prompt");
  if (request.clip_max_tokens && request.max_tokens > room) request.max_tokens = static_cast<int32_t>(room);
  scheduler_.add(request.queue, static_cast<int64_t>(known.ids.size()), request.max_tokens - resumed);
  PrefixHasher hasher(kv_.block_size(), config_.image_token_id, request.image_keys);
  active_.emplace(id, Active{std::move(request), std::move(known), std::move(sampler), -1, resumed, std::move(hasher), 0, -1,
                            std::move(grammar), std::move(matcher)});
  // The prompt points at the features it was prepared from; keep it pointing at the stored copy.
  Active& a = active_.at(id);
  a.known.images = a.request.images.get();
  return prompt_tokens;
}

std::shared_ptr<GrammarMasks> EngineCore::grammar_for(const StructuredOutput& format) {
  if (!tokenizer_) throw std::invalid_argument("structured outputs are not enabled in this engine");
  std::string key = format.prefix;
  for (const std::string* part : {&format.schema, &format.suffix}) key.append(1, '\0').append(*part);
  if (const auto it = grammars_.find(key); it != grammars_.end()) return it->second;
  // Compiled before the vocabulary is built: a bad schema costs nothing.
  auto grammar = compile_json_schema(format.schema, format.prefix, format.suffix);
  if (!vocabulary_) vocabulary_ = TokenVocabulary::from_tokenizer(*tokenizer_, static_cast<int32_t>(candidates_));
  if (grammars_.size() >= kGrammarsKept) grammars_.clear();  // running sequences keep theirs
  return grammars_[key] = std::make_shared<GrammarMasks>(std::move(grammar), vocabulary_);
}

std::span<const float> EngineCore::constrain(Active& a, std::span<const float> row) {
  const TokenMask& mask = a.grammar->mask(*a.matcher);
  masked_.assign(row.size(), -std::numeric_limits<float>::infinity());
  const size_t n = std::min(row.size(), static_cast<size_t>(a.grammar->vocabulary().size()));
  for (size_t w = 0; w * 64 < n; ++w)
    for (uint64_t bits = mask.bits[w]; bits; bits &= bits - 1) {
      const size_t id = w * 64 + static_cast<size_t>(__builtin_ctzll(bits));
      if (id < n) masked_[id] = row[id];
    }
  if (mask.accepting)
    for (int32_t id : a.request.stop_ids)
      if (id >= 0 && static_cast<size_t>(id) < row.size()) masked_[static_cast<size_t>(id)] = row[static_cast<size_t>(id)];
  return masked_;
}

// The scheduler frees the pool sequence; the engine forgets it.
void EngineCore::release_kv(Active& a) {
  a.seq = -1;
  a.registered = 0;
}

void EngineCore::attach_prefix(uint64_t id, SequenceId seq) {
  Active& a = active_.at(id);
  KvBlockPool& pool = scheduler_.pool();
  a.hasher.extend(a.known.ids);
  // The last known token is always computed: its logits give the next token.
  const auto usable = std::min<int64_t>(static_cast<int64_t>(a.hasher.hashes().size()),
                                        (static_cast<int64_t>(a.known.ids.size()) - 1) / pool.block_size());
  int64_t blocks = 0;
  for (; blocks < usable; ++blocks) {
    const std::string& h = a.hasher.hashes()[static_cast<size_t>(blocks)];
    if (pool.share_block(seq, h)) continue;
    const CacheValue stored = store_->get_in_memory(kv_block_key(h));  // never a disk read here
    if (!stored || !load_block(pool, kv_, seq, *stored)) break;
  }
  a.seq = seq;
  a.registered = blocks;  // registered (shared) or in the store (loaded)
  for (int64_t b = 0; b < blocks; ++b) pool.register_block(seq, b, a.hasher.hashes()[static_cast<size_t>(b)]);
}

void EngineCore::keep_full_blocks(Active& a) {
  KvBlockPool& pool = scheduler_.pool();
  a.hasher.extend(a.known.ids);
  const int64_t full = std::min<int64_t>(pool.length(a.seq) / pool.block_size(),
                                         static_cast<int64_t>(a.hasher.hashes().size()));
  for (; a.registered < full; ++a.registered) {
    const std::string& h = a.hasher.hashes()[static_cast<size_t>(a.registered)];
    pool.register_block(a.seq, a.registered, h);
    if (!store_->contains(kv_block_key(h))) store_->put(kv_block_key(h), export_block(pool, kv_, a.seq, a.registered), false);
  }
  copy_for_replica(a);
}

void EngineCore::copy_for_replica(Active& a) {
  if (!a.replicate || a.seq < 0 || a.replicated >= a.registered || copy_budget_ <= 0) return;
  KvBlocks& out = replica_blocks_[a.request.queue.id];
  out.job = a.request.queue.id;
  for (; a.replicated < a.registered && copy_budget_ > 0; ++a.replicated, --copy_budget_) {
    out.keys.push_back(kv_block_key(a.hasher.hashes()[static_cast<size_t>(a.replicated)]));
    out.blocks.push_back(export_block(scheduler_.pool(), kv_, a.seq, a.replicated));
  }
}

bool EngineCore::replicate(uint64_t id, bool copy) {
  const auto it = active_.find(id);
  if (it == active_.end() || !store_) return false;
  it->second.replicate = copy;
  it->second.replicated = 0;
  replica_blocks_.erase(id);
  return true;
}

std::vector<KvBlocks> EngineCore::take_replica_blocks() {
  std::vector<KvBlocks> out;
  for (auto& [id, blocks] : replica_blocks_) out.push_back(std::move(blocks));
  replica_blocks_.clear();
  return out;
}

void EngineCore::end(uint64_t id) {
  const auto it = active_.find(id);
  if (it == active_.end()) return;
  release_kv(it->second);
  scheduler_.finish(id);
  active_.erase(it);
}

bool EngineCore::cancel(uint64_t id) {
  if (!active_.count(id)) return false;
  end(id);
  return true;
}

std::optional<uint64_t> EngineCore::preempt_one() {
  const auto id = scheduler_.preempt_one();
  if (id) release_kv(active_.at(*id));
  return id;
}

TokenEvent EngineCore::sample(Active& a, std::span<const float> row) {
  std::span<const float> logits = row.subspan(0, static_cast<size_t>(candidates_));
  if (a.matcher) logits = constrain(a, logits);
  std::optional<TokenLogprobs> logprobs;
  if (a.request.sampling.logprobs) logprobs.emplace();
  const int32_t token = a.sampler.next(logits, logprobs ? &*logprobs : nullptr);
  const auto& stops = a.request.stop_ids;
  const bool is_stop = std::find(stops.begin(), stops.end(), token) != stops.end();
  // A token at -inf was drawn only when nothing was allowed (a vocabulary missing bytes).
  if (a.matcher && (std::isinf(logits[static_cast<size_t>(token)]) ||
                    (!is_stop && !a.matcher->advance(a.grammar->vocabulary().bytes(token))))) {
    report_.error = "no token of the vocabulary continues the response schema";
    return {a.request.queue.id, -1, FinishReason::error};
  }
  const int32_t pos = a.known.next_position + a.generated;
  ++a.generated;
  a.known.ids.push_back(token);
  a.known.positions.push_back({pos, pos, pos});
  FinishReason finish = FinishReason::none;
  if (is_stop || (a.matcher && a.matcher->finished())) finish = FinishReason::stop;
  else if (a.generated >= a.request.max_tokens) finish = FinishReason::length;
  return TokenEvent{a.request.queue.id, token, finish, std::max<int64_t>(a.cached_tokens, 0), std::move(logprobs)};
}

std::vector<TokenEvent> EngineCore::step(double now_s) {
  const auto t0 = std::chrono::steady_clock::now();
  report_ = {};
  copy_budget_ = std::max<int64_t>(1, replica_bytes_per_step_ / kv_.bytes_per_block());
  const StepPlan plan = scheduler_.plan(now_s);
  for (uint64_t id : plan.preempted) release_kv(active_.at(id));
  report_.preempted = plan.preempted;
  std::vector<TokenEvent> events;
  if (plan.items.empty()) return events;

  std::vector<PrefillEntry> entries;
  entries.reserve(plan.items.size());
  for (const auto& item : plan.items) {
    Active& a = active_.at(item.id);
    a.seq = item.seq;
    // Its first item after its first admission starts past the prefix attached then.
    if (store_ && a.cached_tokens < 0) a.cached_tokens = item.first;
    entries.push_back({&a.known, item.blocks, false, item.first, item.count});
    const bool decode = a.generated > 0 && item.first + 1 == static_cast<int64_t>(a.known.ids.size());
    (decode ? report_.decode_tokens : report_.prefill_tokens) += item.count;
  }
  report_.sequences = static_cast<int64_t>(plan.items.size());
  try {
    const PrefillBatch batch(text_, entries);
    const auto logits = text_.forward(batch.batch(), kv_);
    const auto vocab = static_cast<size_t>(text_.config().vocab_size);
    for (size_t i = 0; i < plan.items.size(); ++i) {
      if (!plan.items[i].sample) continue;
      events.push_back(sample(active_.at(plan.items[i].id), logits.subspan(i * vocab, vocab)));
    }
  } catch (const DeviceLost&) {
    throw;  // not these sequences' fault: they move on with the engine (engine_actor.h)
  } catch (const std::exception& e) {
    report_.error = e.what();
    for (const auto& item : plan.items) {
      events.push_back({item.id, -1, FinishReason::error});
      end(item.id);
    }
    return events;
  }
  if (store_)
    for (const auto& item : plan.items) keep_full_blocks(active_.at(item.id));
  scheduler_.step_done(plan);
  for (const auto& event : events)
    if (event.finish != FinishReason::none) end(event.id);
  report_.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return events;
}

}  // namespace pio
