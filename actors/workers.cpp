#include "actors/workers.h"

#include <caf/actor_pool.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "model/errors.h"
#include "serving/chat_request.h"
#include "serving/prepare_image.h"

namespace pio {
namespace {

// Bad input ends the one request with a clear error; the worker lives on.
caf::error bad_request(const std::exception& e) { return caf::make_error(caf::sec::runtime_error, e.what()); }

template <class Handle, class Factory>
Handle spawn_pool(caf::actor_system& sys, size_t workers, Factory make_worker) {
  const auto pool = caf::actor_pool::make(
      sys.dummy_execution_unit(), std::max<size_t>(workers, 1),
      [=, &sys] { return caf::actor_cast<caf::actor>(make_worker(sys)); }, caf::actor_pool::round_robin());
  return caf::actor_cast<Handle>(pool);
}

// Spawn arguments rather than captures: CAF 0.17 dereferences a null argument tuple for
// actors spawned without arguments (UBSan reports it).
tokenizer_actor::behavior_type tokenizer_worker(std::shared_ptr<const Tokenizer> tokenizer) {
  return {[tokenizer](tokenize_atom, const ChatRequest& request) -> caf::result<PromptTokens> {
    try {
      return tokenize_chat(*tokenizer, request);
    } catch (const std::exception& e) {
      return bad_request(e);
    }
  }};
}

preprocessor_actor::behavior_type preprocessor_worker(PreprocessorConfig config, int64_t node_max_pixels,
                                                      std::shared_ptr<TieredCache> cache) {
  return {
      [config, node_max_pixels, cache](preprocess_atom, const std::vector<uint8_t>& bytes,
                                       int64_t max_pixels) -> caf::result<PreparedImage> {
        try {
          return prepare_image(bytes, config, request_image_limits(config, node_max_pixels, max_pixels), cache.get());
        } catch (const std::exception& e) {
          return bad_request(e);
        }
      },
  };
}

prefetch_actor::behavior_type prefetcher(std::shared_ptr<TieredCache> cache) {
  return {[cache](prefetch_atom, const std::vector<std::string>& keys) -> uint64_t { return cache->prefetch(keys); }};
}

}  // namespace

tokenizer_actor spawn_tokenizer_pool(caf::actor_system& sys, std::shared_ptr<const Tokenizer> tokenizer, size_t workers) {
  return spawn_pool<tokenizer_actor>(sys, workers,
                                     [tokenizer](caf::actor_system& s) { return s.spawn(tokenizer_worker, tokenizer); });
}

preprocessor_actor spawn_preprocessor_pool(caf::actor_system& sys, PreprocessorConfig config, int64_t node_max_pixels,
                                           size_t workers, std::shared_ptr<TieredCache> cache) {
  return spawn_pool<preprocessor_actor>(sys, workers, [config, node_max_pixels, cache](caf::actor_system& s) {
    return s.spawn(preprocessor_worker, config, node_max_pixels, cache);
  });
}

prefetch_actor spawn_prefetcher(caf::actor_system& sys, std::shared_ptr<TieredCache> cache) {
  return sys.spawn<caf::detached>(prefetcher, std::move(cache));
}

}  // namespace pio
