#include "model/tokenizer/stream_detokenizer.h"

#include "model/tokenizer/utf8.h"

namespace pio {

std::string StreamDetokenizer::push(std::int32_t id) {
  const std::string_view bytes = tokenizer_.token_bytes(id, !started_);  // refuses an unknown id
  if (special_ == SpecialTokens::skip && tokenizer_.is_special(id)) return {};
  started_ = started_ || !bytes.empty();
  pending_.append(bytes);
  std::string out;
  pending_.erase(0, utf8::sanitize(pending_, out, /*final=*/false));
  return out;
}

std::string StreamDetokenizer::finish() {
  std::string out;
  utf8::sanitize(pending_, out, /*final=*/true);
  pending_.clear();
  return out;
}

}  // namespace pio
