#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/tokenizer/pretokenizer.h"

#include <cctype>
#include <memory>

#include <pcre2.h>

#include "model/errors.h"

namespace pio {

namespace {

// ECMAScript's \s: WhiteSpace (incl. U+FEFF, excl. U+0085) plus LineTerminator.
constexpr std::string_view kEcmaSpace =
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";

// Per-thread matching state, usable with any compiled pattern (only the whole-match
// offsets are read). The JIT stack grows to 8 MiB for very long whitespace runs.
struct MatchState {
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data{
      pcre2_match_data_create(1, nullptr), &pcre2_match_data_free};
  std::unique_ptr<pcre2_jit_stack, decltype(&pcre2_jit_stack_free)> stack{
      pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr), &pcre2_jit_stack_free};
  std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)> context{
      pcre2_match_context_create(nullptr), &pcre2_match_context_free};
  MatchState() { pcre2_jit_stack_assign(context.get(), nullptr, stack.get()); }
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

}  // namespace

std::string to_ecmascript_semantics(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  int caseless_depth = 0;  // > 0 inside a (?i: group; counts the groups opened within it
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's') {
        out += in_class ? std::string(kEcmaSpace) : "[" + std::string(kEcmaSpace) + "]";
      } else if (e == 'S') {
        if (in_class) throw ModelError("tokenizer: \\S inside a character class is unsupported");
        out += "[^" + std::string(kEcmaSpace) + "]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (in_class) {
      in_class = c != ']';
      out += c;
    } else if (c == '[') {
      if (caseless_depth > 0) throw ModelError("tokenizer: a class inside (?i: is unsupported");
      in_class = true;
      out += c;
    } else if (pattern.substr(i).starts_with("(?i:")) {
      if (caseless_depth > 0) throw ModelError("tokenizer: nested (?i: groups are unsupported");
      caseless_depth = 1;
      out += "(?:";
      i += 3;
    } else if (caseless_depth > 0 && std::isalpha(static_cast<unsigned char>(c))) {
      out += '[';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out += ']';
    } else {
      if (caseless_depth > 0 && c == '(') ++caseless_depth;
      if (caseless_depth > 0 && c == ')') --caseless_depth;
      out += c;
    }
  }
  return out;
}

PreTokenizer::PreTokenizer(std::string_view pattern) {
  const std::string rewritten = to_ecmascript_semantics(pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()),
                                   rewritten.size(), PCRE2_UTF | PCRE2_UCP, &error, &offset,
                                   nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw ModelError("tokenizer: bad pre-tokenizer regex at offset " + std::to_string(offset) +
                     ": " + reinterpret_cast<const char*>(message));
  }
  if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) != 0) {
    pcre2_code_free(code);
    throw ModelError("tokenizer: PCRE2 JIT is unavailable for the pre-tokenizer regex");
  }
  code_ = code;
}

PreTokenizer::~PreTokenizer() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces) const {
  auto* code = static_cast<const pcre2_code*>(code_);
  MatchState& state = match_state();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data.get());
  std::size_t pos = 0;
  std::size_t gap_start = 0;
  while (pos < text.size()) {
    const int rc = pcre2_jit_match(code, subject, text.size(), pos, 0, state.data.get(),
                                   state.context.get());
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw ModelError("tokenizer: pre-tokenizer regex failed (code " +
                                 std::to_string(rc) + ")");
    const std::size_t begin = ovector[0];
    const std::size_t end = ovector[1];
    if (end == begin) {  // an empty match: step over one character
      pos = begin + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    if (begin > gap_start) pieces.push_back(text.substr(gap_start, begin - gap_start));
    pieces.push_back(text.substr(begin, end - begin));
    pos = gap_start = end;
  }
  if (gap_start < text.size()) pieces.push_back(text.substr(gap_start));
}

}  // namespace pio
