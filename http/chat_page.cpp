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
  :root { --fg: #1d1d1f; --muted: #666; --line: #d5d5da; --user: #e8f0fe; --bot: #f6f6f8; --err: #b3261e; --bg: #fff; color-scheme: light dark; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6e6e6; --muted: #9a9a9a; --line: #444; --user: #1f3250; --bot: #26262a; --err: #ff8a80; --bg: #161618; } }
  * { box-sizing: border-box; }
  html, body { height: 100%; margin: 0; }
  body { font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); display: flex; flex-direction: column; max-width: 52rem; margin: 0 auto; padding: 0 1rem; }
  header { display: flex; align-items: center; gap: .6rem; padding: .6rem 0; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
  header h1 { font-size: 1.15rem; margin: 0; flex: 1; }
  details { border-bottom: 1px solid var(--line); padding: .4rem 0; }
  details summary { cursor: pointer; color: var(--muted); }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(10rem, 1fr)); gap: .4rem .8rem; margin-top: .4rem; }
  .grid label { display: flex; flex-direction: column; font-size: 13px; color: var(--muted); }
  input[type=number], input[type=password], input[type=text] { font: inherit; padding: .2rem .3rem; }
  textarea { font: inherit; width: 100%; resize: vertical; padding: .4rem; }
  #system { min-height: 2.6rem; margin-top: .4rem; }
  #log { flex: 1; overflow-y: auto; padding: .8rem 0; min-height: 8rem; }
  #log:empty::before { content: "Ask something; attach images with the Images button, paste or drop them."; color: var(--muted); }
  .msg { margin: 0 0 .8rem; padding: .5rem .7rem; border-radius: .5rem; max-width: 100%; }
  .msg.user { background: var(--user); margin-left: 3rem; }
  .msg.assistant { background: var(--bot); margin-right: 3rem; }
  .role { font-size: 12px; color: var(--muted); margin-bottom: .2rem; }
  .text, .error { white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; }
  .error { color: var(--err); }
  .meta { font-size: 12px; color: var(--muted); margin-top: .3rem; }
  .meta:empty { display: none; }
  .thumbs { display: flex; flex-wrap: wrap; gap: .4rem; margin: .2rem 0; }
  .thumbs:empty { display: none; }
  .thumb { position: relative; }
  .thumb img { display: block; height: 4.5rem; max-width: 8rem; object-fit: cover; border-radius: .3rem; border: 1px solid var(--line); }
  .thumb button { position: absolute; top: -.4rem; right: -.4rem; width: 1.3rem; height: 1.3rem; border-radius: 50%; padding: 0; line-height: 1; border: 1px solid var(--line); cursor: pointer; }
  footer { border-top: 1px solid var(--line); padding: .5rem 0 .8rem; }
  #prompt { min-height: 3.2rem; }
  .row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin-top: .4rem; }
  .row .grow { flex: 1; }
  #status { color: var(--muted); font-size: 13px; overflow-wrap: anywhere; }
  button { font: inherit; padding: .25rem .8rem; cursor: pointer; }
  button:disabled { cursor: default; }
  #image { display: none; }
  label.button { border: 1px solid var(--line); border-radius: .2rem; padding: .25rem .8rem; cursor: pointer; }
  @media (max-width: 30rem) { button, label.button { padding: .25rem .5rem; } .msg.user { margin-left: 1rem; } .msg.assistant { margin-right: 1rem; } }
</style>
</head>
<body>
<header>
  <h1>pio chat</h1>
  <button id="new">New chat</button>
</header>
<details id="settings">
  <summary>Settings: system prompt, sampling, API key</summary>
  <textarea id="system" placeholder="System prompt (optional)"></textarea>
  <div class="grid">
    <label>temperature <input id="temperature" type="number" value="0.7" step="0.1" min="0" max="2"></label>
    <label>top_p <input id="top_p" type="number" value="1" step="0.05" min="0" max="1"></label>
    <label>max tokens <input id="max_tokens" type="number" value="512" min="1"></label>
    <label>seed <input id="seed" type="number" placeholder="random" step="1"></label>
    <label>API key <input id="key" type="password" placeholder="only with --api-key" autocomplete="off"></label>
    <label><span><input id="remember" type="checkbox"> remember the key</span></label>
  </div>
</details>
<main id="log" aria-live="polite"></main>
<footer>
  <div id="pending" class="thumbs"></div>
  <textarea id="prompt" placeholder="Message (Enter sends, Shift+Enter is a new line, Esc stops)"></textarea>
  <div class="row">
    <label class="button" for="image">Images</label><input type="file" id="image" accept="image/*" multiple>
    <span id="status" class="grow"></span>
    <button id="regenerate" disabled>Regenerate</button>
    <button id="stop" disabled>Stop</button>
    <button id="send">Send</button>
  </div>
</footer>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const SETTINGS = ["system", "temperature", "top_p", "max_tokens", "seed"];
// The conversation: {role: "user", text, images: [data URI]} or {role: "assistant", text, error,
// stopped, meta}; each with its element. Failed answers stay on screen but are not sent back.
const turns = [];
let pending = [];         // the images of the next message, as data URIs
let controller = null;    // aborts the answer being streamed

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function thumbs(images, removable) {
  const box = el("div", "thumbs");
  images.forEach((url, i) => {
    const t = el("div", "thumb");
    const img = el("img");
    img.src = url; img.alt = "image " + (i + 1);
    t.append(img);
    if (removable) {
      const x = el("button", "", "\u00d7");
      x.title = "remove this image";
      x.addEventListener("click", () => { pending.splice(i, 1); showPending(); });
      t.append(x);
    }
    box.append(t);
  });
  return box;
}
function showPending() { $("pending").replaceChildren(...thumbs(pending, true).childNodes); }

function render(turn) {
  if (!turn.el) { turn.el = el("div", "msg " + turn.role); $("log").append(turn.el); }
  const parts = [el("div", "role", turn.role === "user" ? "you" : "assistant")];
  if (turn.images && turn.images.length) parts.push(thumbs(turn.images, false));
  if (turn.text || !turn.error) parts.push(el("div", "text", turn.text));
  if (turn.error) parts.push(el("div", "error", "Error: " + turn.error));  // after what streamed, if any
  parts.push(el("div", "meta", turn.meta || ""));
  turn.el.replaceChildren(...parts);
}
function scrollDown() { const log = $("log"); log.scrollTop = log.scrollHeight; }
function busy(on) {
  $("send").disabled = on;
  $("stop").disabled = !on;
  $("regenerate").disabled = on || !turns.length;
  $("new").disabled = on;
}

// The OpenAI messages array: the system prompt, then every turn but failed or empty answers.
function messages() {
  const out = [];
  if ($("system").value.trim()) out.push({ role: "system", content: $("system").value });
  for (const t of turns) {
    if (t.role === "assistant") {
      if (!t.error && t.text) out.push({ role: "assistant", content: t.text });
    } else if (t.images.length) {
      out.push({ role: "user", content: [...t.images.map((url) => ({ type: "image_url", image_url: { url } })),
                                         ...(t.text ? [{ type: "text", text: t.text }] : [])] });
    } else {
      out.push({ role: "user", content: t.text });
    }
  }
  return out;
}
function body() {
  const b = { messages: messages(), stream: true, stream_options: { include_usage: true } };
  for (const k of ["temperature", "top_p", "max_tokens", "seed"])
    if ($(k).value.trim() !== "") b[k] = Number($(k).value);
  return b;
}
function headers() {
  const h = { "Content-Type": "application/json" };
  if ($("key").value) h["Authorization"] = "Bearer " + $("key").value;
  return h;
}
async function errorOf(response) {
  const text = await response.text();
  try { return JSON.parse(text).error.message; } catch (e) { return `HTTP ${response.status} ${text.slice(0, 300)}`; }
}
function timings(t, usage, ttftSeen) {
  const parts = [];
  const ttft = t ? t.ttft_ms : ttftSeen;
  if (ttft !== null && ttft !== undefined) parts.push(`TTFT ${ttft.toFixed(0)} ms`);
  if (t && usage && usage.completion_tokens > 1 && t.decode_ms > 0)
    parts.push(`${((usage.completion_tokens - 1) / (t.decode_ms / 1000)).toFixed(1)} tokens/s`);
  if (usage) parts.push(`${usage.prompt_tokens} prompt + ${usage.completion_tokens} generated tokens`);
  if (t && t.vision_ms > 0) parts.push(`vision ${t.vision_ms.toFixed(0)} ms`);
  if (t) parts.push(`total ${t.total_ms.toFixed(0)} ms`);
  return parts.join(" \u00b7 ");
}

// Streams one answer into a new assistant turn; resolves to it ({text, chunks, timings, error}).
async function answer() {
  const turn = { role: "assistant", text: "", chunks: 0 };
  const request = body();
  turns.push(turn);
  render(turn); scrollDown();
  busy(true);
  $("status").textContent = "streaming\u2026";
  controller = new AbortController();
  const started = performance.now();
  let ttftSeen = null, usage = null;
  try {
    const response = await fetch("/v1/chat/completions", { method: "POST", headers: headers(),
      body: JSON.stringify(request), signal: controller.signal });
    if (!response.ok) throw new Error(await errorOf(response));
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const data = buffer.slice(0, end).split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
        buffer = buffer.slice(end + 2);
        if (!data || data === "[DONE]") continue;
        const event = JSON.parse(data);
        if (event.error) throw new Error(event.error.message);
        if (event.timings) turn.timings = event.timings;
        if (event.usage) usage = event.usage;
        const choice = event.choices && event.choices.length ? event.choices[0] : null;
        if (choice && choice.finish_reason) turn.finish = choice.finish_reason;
        const delta = choice ? choice.delta.content : null;
        if (delta) {
          if (ttftSeen === null) ttftSeen = performance.now() - started;
          turn.text += delta; turn.chunks++;
          const near = $("log").scrollHeight - $("log").scrollTop - $("log").clientHeight < 40;
          turn.el.querySelector(".text").textContent = turn.text;
          if (near) scrollDown();
        }
      }
    }
    turn.meta = timings(turn.timings, usage, ttftSeen) +
      (turn.finish === "length" ? " \u00b7 cut at max tokens" : "") +
      (turn.finish ? "" : " \u00b7 the stream ended before the answer did");
    $("status").textContent = turn.finish ? "done" : "incomplete";
  } catch (e) {
    if (e.name === "AbortError") {
      turn.stopped = true;
      turn.meta = "stopped" + (ttftSeen !== null ? ` \u00b7 TTFT ${ttftSeen.toFixed(0)} ms (seen here)` : "") +
        ` \u00b7 ${turn.chunks} chunks`;
      if (!turn.text) turn.error = "stopped before the first token";
      $("status").textContent = "stopped";
    } else {
      turn.error = e.message;
      $("status").textContent = "error";
    }
  } finally {
    controller = null;
    render(turn); scrollDown();
    busy(false);
  }
  return turn;
}

async function send() {
  if (controller) return;
  const text = $("prompt").value.trim();
  if (!text && !pending.length) return;
  const turn = { role: "user", text, images: pending };
  pending = []; showPending();
  $("prompt").value = "";
  turns.push(turn);
  render(turn);
  return answer();
}
// Answers the last user message again, in place of the last answer.
async function regenerate() {
  if (controller || !turns.length) return;
  if (turns[turns.length - 1].role === "assistant") turns.pop().el.remove();
  return answer();
}

async function addFiles(files) {
  for (const file of files) {
    if (!file.type.startsWith("image/")) continue;
    pending.push(await new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    }));
  }
  showPending();
}

$("image").addEventListener("change", async () => {
  await addFiles([...$("image").files]);
  $("image").value = "";  // the thumbnails are the images to send, not the input
});
document.addEventListener("paste", (e) => { if (e.clipboardData.files.length) addFiles([...e.clipboardData.files]); });
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", (e) => { e.preventDefault(); addFiles([...e.dataTransfer.files]); });
$("send").addEventListener("click", send);
$("stop").addEventListener("click", () => { if (controller) controller.abort(); });
$("regenerate").addEventListener("click", regenerate);
$("new").addEventListener("click", () => {
  turns.length = 0; $("log").replaceChildren(); $("status").textContent = ""; busy(false);
});
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && controller) controller.abort(); });
$("prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
});

// Settings stay in localStorage; the key in sessionStorage, or localStorage when remembered.
const saved = JSON.parse(localStorage.getItem("pio-chat-settings") || "{}");
for (const k of SETTINGS) {
  if (saved[k] !== undefined) $(k).value = saved[k];
  $(k).addEventListener("change", () => {
    const s = {};
    for (const j of SETTINGS) s[j] = $(j).value;
    localStorage.setItem("pio-chat-settings", JSON.stringify(s));
  });
}
$("remember").checked = localStorage.getItem("pio-chat-key") !== null;
$("key").value = localStorage.getItem("pio-chat-key") || sessionStorage.getItem("pio-chat-key") || "";
function storeKey() {
  localStorage.removeItem("pio-chat-key"); sessionStorage.removeItem("pio-chat-key");
  if ($("key").value) ($("remember").checked ? localStorage : sessionStorage).setItem("pio-chat-key", $("key").value);
}
$("key").addEventListener("change", storeKey);
$("remember").addEventListener("change", storeKey);

// ?selftest: a generated 64x48 image and a prompt, sent without a click.
if (new URLSearchParams(location.search).has("selftest")) {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 48;
  const g = canvas.getContext("2d");
  g.fillStyle = "#3a7"; g.fillRect(0, 0, 64, 48); g.fillStyle = "#e52"; g.fillRect(16, 12, 24, 20);
  pending = [canvas.toDataURL("image/png")];
  $("max_tokens").value = 8;
  $("prompt").value = "What is in this picture?";
  send().then((r) => {
    $("status").textContent = r.error ? "selftest failed: " + r.error
      : `selftest ok chunks=${r.chunks} ttft_ms=${r.timings ? r.timings.ttft_ms : -1}`;
  });
}
</script>
</body>
</html>
)PIOHTML";
  return page;
}

}  // namespace pio::http
