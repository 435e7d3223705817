#include "model/tokenizer/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

#include "model/tokenizer/utf8.h"

namespace pio {

std::string Tokenizer::decode(std::span<const std::int32_t> ids, SpecialTokens special) const {
  std::string raw;
  for (const std::int32_t id : ids) {
    const std::string_view bytes = token_bytes(id, raw.empty());  // refuses an unknown id
    if (special == SpecialTokens::show || !is_special(id)) raw.append(bytes);
  }
  return utf8::sanitized(raw);
}

std::vector<std::vector<std::int32_t>> Tokenizer::encode_batch(std::span<const std::string> texts,
                                                               unsigned threads,
                                                               bool parse_special) const {
  std::vector<std::vector<std::int32_t>> out(texts.size());
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, texts.size()));
  // Texts are handed out one at a time so uneven lengths still balance across threads.
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  const auto work = [&] {
    try {
      for (std::size_t i = next++; i < texts.size() && !failed; i = next++) {
        out[i] = encode(texts[i], parse_special);
      }
    } catch (...) {
      if (!failed.exchange(true)) error = std::current_exception();
    }
  };
  std::vector<std::jthread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  pool.clear();  // joins
  if (error) std::rethrow_exception(error);
  return out;
}

}  // namespace pio
