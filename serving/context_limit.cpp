#include "serving/context_limit.h"

#include <algorithm>

namespace pio {

int64_t expanded_prompt_tokens(int64_t prompt_ids, std::span<const int64_t> image_tokens) {
  int64_t n = prompt_ids;
  for (int64_t t : image_tokens) n += t - 1;
  return n;
}

ContextFit fit_context(int64_t prompt_tokens, int32_t max_tokens, bool clip, int64_t context, const std::string& input) {
  if (context <= 0) return {max_tokens, ""};  // the config names none
  const std::string limit = "This model's maximum context length is " + std::to_string(context) + " tokens. ";
  if (prompt_tokens >= context)
    return {0, limit + "However, your " + input + " resulted in " + std::to_string(prompt_tokens) +
                   " tokens, which leaves no room for an answer. Please reduce the length of the " + input + "."};
  if (clip) return {static_cast<int32_t>(std::min<int64_t>(max_tokens, context - prompt_tokens)), ""};
  if (prompt_tokens + max_tokens > context)
    return {0, limit + "However, you requested " + std::to_string(prompt_tokens + max_tokens) + " tokens (" +
                   std::to_string(prompt_tokens) + " in the " + input + ", " + std::to_string(max_tokens) +
                   " in the completion). Please reduce the length of the " + input + " or completion."};
  return {max_tokens, ""};
}

}  // namespace pio
