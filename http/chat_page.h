// The single-page chat served at GET /: a conversation kept in the page and sent whole (the
// OpenAI messages array, streamed from /v1/chat/completions), several images per message as data
// URIs with removable thumbnails, stop (aborts the fetch, which cancels the request), regenerate,
// the timings of each answer, a system prompt and sampling settings, errors shown in place of the
// answer, and the API key field (kept in sessionStorage, or localStorage when remembered).
// Plain HTML and inline JavaScript: no CDN, no build step, no external fonts.
// Opened with ?selftest it sends a generated image and a prompt by itself and writes the
// outcome into #status ("selftest ok ..." or "selftest failed ..."), for headless tests.
#pragma once

#include <string>

namespace pio::http {

const std::string& chat_page_html();

}  // namespace pio::http
