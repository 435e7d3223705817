#include "http/chat_page.h"

namespace pio::http {

const std::string& chat_page_html() {
  static const std::string page = R"PIOHTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pio chat</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  textarea { width: 100%; min-height: 4rem; }
  #answer { white-space: pre-wrap; border: 1px solid #ccc; padding: .6rem; min-height: 3rem; }
  #timings, #status { color: #555; font-size: 13px; }
  img { max-width: 12rem; max-height: 12rem; display: block; margin: .4rem 0; }
</style>
</head>
<body>
<h1>pio chat</h1>
<p><input type="file" id="image" accept="image/*"> <img id="preview" alt="" hidden></p>
<p><textarea id="prompt">Describe this image.</textarea></p>
<p><label>max tokens <input id="max_tokens" type="number" value="128" min="1"></label>
   <label>temperature <input id="temperature" type="number" value="0" step="0.1" min="0" max="2"></label>
   <label>API key <input id="key" type="password" placeholder="only if the node has --api-key"></label>
   <button id="send">Send</button></p>
<div id="answer"></div>
<p id="timings"></p>
<p id="status"></p>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let imageUrl = null;

$("image").addEventListener("change", () => {
  const file = $("image").files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => { imageUrl = reader.result; $("preview").src = imageUrl; $("preview").hidden = false; };
  reader.readAsDataURL(file);
});

// Streams one answer into #answer; resolves to {chunks, text, timings}.
async function ask(prompt, image) {
  const content = image ? [{ type: "image_url", image_url: { url: image } }, { type: "text", text: prompt }] : prompt;
  const headers = { "Content-Type": "application/json" };
  if ($("key").value) headers["Authorization"] = "Bearer " + $("key").value;
  const response = await fetch("/v1/chat/completions", { method: "POST", headers, body: JSON.stringify({
    messages: [{ role: "user", content }], stream: true, stream_options: { include_usage: true },
    max_tokens: Number($("max_tokens").value), temperature: Number($("temperature").value) }) });
  if (!response.ok) throw new Error((await response.json()).error.message);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "", text = "", chunks = 0, timings = null, usage = null;
  $("answer").textContent = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const event = JSON.parse(line.slice(6));
      if (event.error) throw new Error(event.error.message);
      if (event.timings) timings = event.timings;
      if (event.usage) usage = event.usage;
      const delta = event.choices.length ? event.choices[0].delta.content : null;
      if (delta) { text += delta; chunks++; $("answer").textContent = text; }
    }
  }
  if (timings) $("timings").textContent = `time to first token ${timings.ttft_ms.toFixed(0)} ms, ` +
    `vision ${timings.vision_ms.toFixed(0)} ms, decode ${timings.decode_ms.toFixed(0)} ms, total ${timings.total_ms.toFixed(0)} ms` +
    (usage ? `, ${usage.prompt_tokens} prompt + ${usage.completion_tokens} generated tokens` : "");
  return { chunks, text, timings };
}

$("send").addEventListener("click", async () => {
  $("send").disabled = true;
  $("status").textContent = "streaming...";
  try { await ask($("prompt").value, imageUrl); $("status").textContent = "done"; }
  catch (e) { $("status").textContent = "error: " + e.message; }
  $("send").disabled = false;
});

// ?selftest: a generated 64x48 image and a prompt, sent without a click.
if (new URLSearchParams(location.search).has("selftest")) {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 48;
  const g = canvas.getContext("2d");
  g.fillStyle = "#3a7"; g.fillRect(0, 0, 64, 48); g.fillStyle = "#e52"; g.fillRect(16, 12, 24, 20);
  imageUrl = canvas.toDataURL("image/png");
  $("max_tokens").value = 8;
  ask("What is in this picture?", imageUrl)
    .then((r) => { $("status").textContent = `selftest ok chunks=${r.chunks} ttft_ms=${r.timings ? r.timings.ttft_ms : -1}`; })
    .catch((e) => { $("status").textContent = "selftest failed: " + e.message; });
}
</script>
</body>
</html>
)PIOHTML";
  return page;
}

}  // namespace pio::http
