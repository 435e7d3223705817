// Drives the node's chat page (GET /) in headless Chromium as a user would, with real clicks and
// keystrokes, and checks what it sends and shows: a two-turn conversation with images (three
// picked, one removed; the second request carries the first answer, which equals the node's own
// answer to the first request), an error shown in place of the answer it regenerates, a stop
// mid-stream that cancels the request on the node (its /metrics count it), a long unbroken line
// that wraps, and screenshots; then, on a node with --api-key, the key field: a 401 shown in
// place, the answer once the key is typed, the key kept in sessionStorage (localStorage when
// remembered) across a reload. Prints what it checks; exits 1 at the first failure.
//   node chat_page_drive.mjs BASE_URL KEYED_BASE_URL KEY PROFILE_DIR SCREENSHOT_DIR IMAGE1 IMAGE2 IMAGE3
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { openPage } from "./cdp_pipe.mjs";

const [base, keyedBase, key, profile, screenshots, ...paths] = process.argv.slice(2);
const images = paths.map((p) => resolve(p));  // Chromium reads files by absolute path
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let page;
function fail(message) {
  console.log("FAIL: " + message);
  if (page) page.close();
  process.exit(1);
}
function check(ok, message) {
  if (!ok) fail(message);
  console.log("ok: " + message);
}
setTimeout(() => fail("the page test took over 400 s"), 400_000);

page = await openPage(base + "/", profile);
await page.send("Emulation.setDeviceMetricsOverride", { width: 1000, height: 900, deviceScaleFactor: 1, mobile: false });
await page.send("Network.enable", { maxPostDataSize: 64 << 20 });
const thrown = [];  // uncaught exceptions in the page: none allowed
page.on("Runtime.exceptionThrown", ({ exceptionDetails }) => thrown.push(exceptionDetails.exception?.description ?? exceptionDetails.text));
await page.send("Runtime.enable");
const requests = [];  // the JSON bodies the page POSTs to /v1/chat/completions, in order
page.on("Network.requestWillBeSent", async ({ requestId, request }) => {
  if (request.method !== "POST" || !request.url.endsWith("/v1/chat/completions")) return;
  const entry = { body: null };
  requests.push(entry);
  entry.body = JSON.parse(request.postData ?? (await page.send("Network.getRequestPostData", { requestId })).postData);
});

// js(expression): its value in the page (an exception in the page fails the test).
async function js(expression) {
  const r = await page.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
  if (r.exceptionDetails) fail(`in the page: ${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
  return r.result.value;
}
async function until(expression, label, seconds = 120) {
  for (let waited = 0; waited < seconds * 1000; waited += 100) {
    if (await js(expression)) return;
    await sleep(100);
  }
  fail(`${label}: not within ${seconds} s (status: ${await js("document.getElementById('status').textContent")})`);
}
// click(selector): a real mouse click at the middle of the element (which must be visible).
async function click(selector) {
  const box = await js(`(() => { const e = document.querySelector(${JSON.stringify(selector)});
    if (!e) return null; e.scrollIntoView({ block: "nearest" }); const r = e.getBoundingClientRect();
    return r.width && r.height ? { x: r.x + r.width / 2, y: r.y + r.height / 2 } : null; })()`);
  if (!box) fail(`no visible ${selector} to click`);
  for (const type of ["mousePressed", "mouseReleased"])
    await page.send("Input.dispatchMouseEvent", { type, x: box.x, y: box.y, button: "left", clickCount: 1 });
}
// type(selector, text): empties the field, focuses it and types text into it.
async function type(selector, text) {
  await js(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); e.value = ""; e.focus(); })()`);
  await page.send("Input.insertText", { text });
  await js(`document.querySelector(${JSON.stringify(selector)}).dispatchEvent(new Event("change"))`);
}
async function pressEnter() {
  for (const type of ["keyDown", "keyUp"])
    await page.send("Input.dispatchKeyEvent", { type, key: "Enter", code: "Enter", windowsVirtualKeyCode: 13, text: type === "keyDown" ? "\r" : undefined });
}
const status = () => js("document.getElementById('status').textContent");
const answers = () => js(`[...document.querySelectorAll(".msg.assistant")].map((m) => ({
  text: m.querySelector(".text")?.textContent ?? null, error: m.querySelector(".error")?.textContent ?? null,
  meta: m.querySelector(".meta").textContent }))`);
async function metric(name) {
  const text = await (await fetch(base + "/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.split(" ")[1]) : 0;
}
async function screenshot(name) {
  const shot = await page.send("Page.captureScreenshot", { format: "png" });
  writeFileSync(`${screenshots}/${name}`, Buffer.from(shot.data, "base64"));
  console.log(`screenshot: ${screenshots}/${name}`);
}
async function waitDone(label, count) {
  await until(`document.getElementById("send").disabled === false && document.querySelectorAll(".msg.assistant").length === ${count}`, label);
}

await click("#settings summary");
await type("#temperature", "0");
await type("#max_tokens", "12");
await type("#seed", "7");
await type("#system", "You are terse.");

// Three images picked, the second removed with its thumbnail's button.
const { root } = await page.send("DOM.getDocument");
const { nodeId } = await page.send("DOM.querySelector", { nodeId: root.nodeId, selector: "#image" });
await page.send("DOM.setFileInputFiles", { nodeId, files: images });
await until("document.querySelectorAll('#pending img').length === 3", "three thumbnails", 20);
await click("#pending .thumb:nth-child(2) button");
check(await js("document.querySelectorAll('#pending img').length") === 2, "a removed image's thumbnail is gone");
check(await js("document.getElementById('image').value") === "", "the file input is cleared once its images are thumbnails");
await screenshot("composer.png");

// Turn 1: typed, sent with Enter.
await type("#prompt", "Describe these two images.");
await pressEnter();
await waitDone("the first answer", 1);
let shown = await answers();
check(shown[0].error === null && shown[0].text.length > 0, `the first answer streamed: ${JSON.stringify(shown[0].text)}`);
check(/TTFT \d+ ms/.test(shown[0].meta) && /tokens\/s/.test(shown[0].meta) && /\d+ prompt \+ 12 generated tokens/.test(shown[0].meta) &&
      /cut at max tokens/.test(shown[0].meta),
      `the first answer's timings: ${shown[0].meta}`);
check(await js("document.getElementById('pending').children.length") === 0, "the sent images left the composer");
check(await js("document.querySelectorAll('.msg.user img').length") === 2, "the first message shows its two images");
const first = requests[0]?.body;
check(first && first.stream === true && first.stream_options?.include_usage === true, "the page streams with usage");
check(first.temperature === 0 && first.max_tokens === 12 && first.seed === 7 && first.top_p === 1, "the sampling settings are sent");
const dataOf = (path) => readFileSync(path).toString("base64");
const parts = first.messages[1]?.content ?? [];
check(isDeepStrictEqual(first.messages[0], { role: "system", content: "You are terse." }), "the system prompt is sent first");
check(parts.length === 3 && parts[0].image_url.url === `data:image/jpeg;base64,${dataOf(images[0])}` &&
      parts[1].image_url.url === `data:image/png;base64,${dataOf(images[2])}` &&
      isDeepStrictEqual(parts[2], { type: "text", text: "Describe these two images." }),
      "the first message carries images 1 and 3 as data: URIs, then the text");
const replay = await (await fetch(base + "/v1/chat/completions", { method: "POST", headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ ...first, stream: false, stream_options: undefined }) })).json();
check(replay.choices?.[0]?.message?.content === shown[0].text, "the page shows the node's answer to that request");

// Turn 2: the first answer goes back in the history.
await type("#prompt", "And which colour dominates?");
await click("#send");
await waitDone("the second answer", 2);
shown = await answers();
check(shown[1].error === null && /TTFT/.test(shown[1].meta), `the second answer streamed: ${JSON.stringify(shown[1].text)}`);
const second = requests[1]?.body;
check(second && second.messages.length === 4 && isDeepStrictEqual(second.messages.slice(0, 2), first.messages) &&
      isDeepStrictEqual(second.messages[2], { role: "assistant", content: shown[0].text }) &&
      isDeepStrictEqual(second.messages[3], { role: "user", content: "And which colour dominates?" }),
      "the second request carries the whole conversation, the first answer included");

await click("#settings summary");  // closed: the conversation fills the page
await screenshot("conversation.png");
await click("#settings summary");

// An error: regenerate with max_tokens over the node's limit; the error replaces the answer.
await type("#max_tokens", "999999");
await click("#regenerate");
await waitDone("the error", 2);
shown = await answers();
const third = requests[2].body;
const refusal = await (await fetch(base + "/v1/chat/completions", { method: "POST", headers: { "Content-Type": "application/json" },
  body: JSON.stringify(third) })).json();
check(typeof refusal.error?.message === "string" && shown[1].error === "Error: " + refusal.error.message,
      `the node's error message is shown in place of the answer: ${shown[1].error}`);
check(shown[1].text === null && shown[1].meta === "", "the regenerated answer's text and timings are gone");
check(await status() === "error", "the status says error");
await screenshot("error.png");
check(isDeepStrictEqual(third.messages, second.messages), "regenerate sends the same history again");

// A stop mid-stream: regenerate a long answer, stop it once it streams; the node cancels it.
const cancelled = await metric('pio_requests_total{outcome="cancelled"}');
await type("#max_tokens", "4000");
await click("#regenerate");
await until(`(document.querySelectorAll(".msg.assistant .text")[1]?.textContent.length ?? 0) > 0`, "the long answer streams", 60);
check(await js("document.getElementById('stop').disabled") === false, "stop is enabled while streaming");
check(isDeepStrictEqual(requests[3].body.messages, second.messages), "the failed answer is not sent back");
await click("#stop");
await waitDone("the stop", 2);
shown = await answers();
check(await status() === "stopped" && /^stopped/.test(shown[1].meta) && shown[1].text.length > 0,
      `a stopped answer keeps its text and says stopped: ${shown[1].meta}`);
let counted = false;
for (let i = 0; i < 100 && !counted; ++i, await sleep(100))
  counted = (await metric('pio_requests_total{outcome="cancelled"}')) > cancelled;
check(counted, "the node counted the stopped request as cancelled");

// A long unbroken line wraps: the page never scrolls sideways.
await type("#max_tokens", "2");
await type("#prompt", "x".repeat(3000));
await click("#send");
await waitDone("the third answer", 3);
check(await js(`document.documentElement.scrollWidth <= document.documentElement.clientWidth &&
  [...document.querySelectorAll(".msg")].every((m) => m.scrollWidth <= m.clientWidth)`), "a long unbroken line wraps");
check(isDeepStrictEqual(requests[4].body.messages.slice(0, 4), second.messages) &&
      isDeepStrictEqual(requests[4].body.messages[4], { role: "assistant", content: shown[1].text }),
      "the stopped answer's text is kept in the history");

await screenshot("end.png");
check(thrown.length === 0, `no uncaught exception in the page: ${thrown.join("; ")}`);

// The API key: refused without it (in place), answered with it, kept across a reload.
await page.send("Page.navigate", { url: keyedBase + "/" });
await until(`document.readyState === "complete" && location.href.startsWith(${JSON.stringify(keyedBase)})`, "the keyed node's page", 30);
await type("#prompt", "hi");
await pressEnter();
await waitDone("the keyless request", 1);
shown = await answers();
check(/^Error: .+/.test(shown[0].error ?? ""), `a 401 is shown in place: ${shown[0].error}`);
await click("#settings summary");
await type("#max_tokens", "3");
await type("#key", key);
await click("#regenerate");
await waitDone("the keyed request", 1);
shown = await answers();
check(shown[0].error === null && /TTFT/.test(shown[0].meta), "answered once the key is typed");
check(await js(`sessionStorage.getItem("pio-chat-key") === ${JSON.stringify(key)} && localStorage.getItem("pio-chat-key") === null`),
      "the key is kept in sessionStorage, not localStorage");
await click("#remember");
check(await js(`localStorage.getItem("pio-chat-key") === ${JSON.stringify(key)} && sessionStorage.getItem("pio-chat-key") === null`),
      "a remembered key moves to localStorage");
await page.send("Page.reload");
await until(`document.readyState === "complete" && document.getElementById("key").value === ${JSON.stringify(key)}`, "the key after a reload", 30);
check(await js(`document.getElementById("remember").checked && document.getElementById("max_tokens").value === "3"`),
      "the key and the settings survive a reload");
page.close();
process.exit(0);
