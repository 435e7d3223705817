// What flows back to a client: stream events (text deltas, then one final event with the
// finish reason, usage and per-stage timings) and errors with a stable code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "messages/optional_field.h"
#include "model/sampler.h"

namespace pio {

// Stable error codes; the HTTP gateway maps them to statuses. bad_image: an image that cannot
// be decoded or is over the pixel limits.
enum class ErrorCode : uint8_t { none, bad_request, too_large, overloaded, deadline_exceeded, cancelled, internal, bad_image };
const char* error_code_name(ErrorCode c);

struct ErrorInfo {
  ErrorCode code = ErrorCode::none;
  std::string message;
  int32_t image = -1;  // bad_image: the request's image at fault (0-based, in the order of its parts), else -1
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;  // special tokens included, shown or not
  int64_t cached_tokens = 0;      // prompt tokens served from a cache
};

// Milliseconds per stage of one request.
struct StageTimings {
  double queue_ms = 0;       // admission wait
  double preprocess_ms = 0;  // image decode and resize (parallel with tokenize)
  double tokenize_ms = 0;
  double vision_ms = 0;      // vision encoder, from its first block to its last
  double prefill_ms = 0;     // from joining the batcher to the first token
  double ttft_ms = 0;        // arrival to first token
  double decode_ms = 0;      // first token to last
  double total_ms = 0;
};

struct StreamEvent {
  uint64_t request_id = 0;
  std::string text;               // the text delta (whole UTF-8 characters)
  std::vector<int32_t> token_ids; // the tokens this delta came from
  // With SamplingOptions::logprobs: one entry per id of token_ids, in the same order.
  std::vector<TokenLogprobs> logprobs;
  bool final = false;
  std::string finish_reason;      // on the final event: stop, length, cancelled, error
  Usage usage;                    // on the final event
  StageTimings timings;           // on the final event
  ErrorInfo error;                // on a final event that ends in error
  // On the final event of an admitted request: the seed it sampled with (the request's, or one
  // the node drew), to replay it.
  std::optional<uint64_t> seed = std::nullopt;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ErrorInfo& x) {
  return f(caf::meta::type_name("pio::ErrorInfo"), x.code, x.message, x.image);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Usage& x) {
  return f(caf::meta::type_name("pio::Usage"), x.prompt_tokens, x.completion_tokens, x.cached_tokens);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, StageTimings& x) {
  return f(caf::meta::type_name("pio::StageTimings"), x.queue_ms, x.preprocess_ms, x.tokenize_ms, x.vision_ms,
           x.prefill_ms, x.ttft_ms, x.decode_ms, x.total_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TokenLogprob& x) {
  return f(caf::meta::type_name("pio::TokenLogprob"), x.id, x.logprob);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TokenLogprobs& x) {
  return f(caf::meta::type_name("pio::TokenLogprobs"), x.chosen, x.top);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, StreamEvent& x) {
  return f(caf::meta::type_name("pio::StreamEvent"), x.request_id, x.text, x.token_ids, x.logprobs, x.final,
           x.finish_reason, x.usage, x.timings, x.error, optional_field(x.seed));
}

}  // namespace pio
