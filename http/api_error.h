// Errors the HTTP gateway answers with: a status and OpenAI's error JSON shape,
// {"error": {"message", "type", "param", "code"}}, as api.openai.com and vLLM send them.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "messages/events.h"

namespace pio::http {

class ApiError : public std::runtime_error {
 public:
  // status: the HTTP status; param: the request field at fault ("" when none).
  ApiError(int status, std::string message, std::string param = "");
  int status() const { return status_; }
  const std::string& param() const { return param_; }

 private:
  int status_;
  std::string param_;
};

// The OpenAI error type for a status: authentication_error (401), rate_limit_error (429),
// invalid_request_error (any other 4xx: 400, 404, 405, 413, 415, 422, 431), overloaded_error
// (503), timeout_error (504, a passed deadline), server_error (the rest).
const char* error_type(int status);

// The error JSON for a status and message (param null when empty).
std::string error_body(int status, const std::string& message, const std::string& param = "");

// Client text quoted in an error, bounded: at most 64 bytes, then "...". An error never echoes
// a whole field (an image's base64, a long path) back.
std::string excerpt(std::string_view text);

// A node's error message in plain words: CAF's renderings of its error codes,
// system_error(request_timeout) or exit_reason(remote_link_unreachable), become "request
// timeout", "remote link unreachable".
std::string plain_words(std::string message);

// The status a node's error code is answered with: bad_request 400, too_large 413, bad_image
// 422, overloaded 503, deadline_exceeded 504, anything else 500.
int status_of(ErrorCode code);

}  // namespace pio::http
