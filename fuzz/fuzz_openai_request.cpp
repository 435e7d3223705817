// A body as POST /v1/chat/completions receives it (http/openai_request.h), images included
// (data: URIs: base64, then the header probe). A refusal is an ApiError with a 4xx status
// (passed on as the harness's ModelError); an accepted request is one the node can take.
#include <string_view>

#include "fuzz/harness.h"
#include "http/api_error.h"
#include "http/openai_request.h"
#include "model/errors.h"

void pio::fuzz::fuzz_one(std::span<const uint8_t> data) {
  const std::string_view body(reinterpret_cast<const char*>(data.data()), data.size());
  const http::RequestLimits limits;
  try {
    const http::ParsedRequest p = http::parse_chat_request(body, limits);
    require(!p.request.messages.empty(), "an accepted request has messages");
    require(p.request.max_tokens >= 1 && p.request.max_tokens <= limits.max_tokens, "max_tokens within the limit");
    require(p.tools == !p.request.tools.empty(), "tool calls are parsed exactly when tools are rendered");
  } catch (const http::ApiError& e) {
    require(e.status() >= 400 && e.status() < 500, "a refusal is a 4xx");
    throw ModelError(e.what());
  }
}
