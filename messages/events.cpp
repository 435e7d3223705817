#include "messages/events.h"

namespace pio {

const char* error_code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::none: return "none";
    case ErrorCode::bad_request: return "bad_request";
    case ErrorCode::too_large: return "too_large";
    case ErrorCode::overloaded: return "overloaded";
    case ErrorCode::deadline_exceeded: return "deadline_exceeded";
    case ErrorCode::cancelled: return "cancelled";
    case ErrorCode::internal: return "internal";
    case ErrorCode::bad_image: return "bad_image";
  }
  return "internal";
}

}  // namespace pio
