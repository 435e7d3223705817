// The single-page chat served at GET /: pick an image, type a prompt, watch the answer stream
// from /v1/chat/completions, see the timings. Plain HTML and inline JavaScript, no CDN.
// Opened with ?selftest it sends a generated image and a prompt by itself and writes the
// outcome into #status ("selftest ok ..." or "selftest failed ..."), for headless tests.
#pragma once

#include <string>

namespace pio::http {

const std::string& chat_page_html();

}  // namespace pio::http
