// Opens the node's chat page with ?selftest in headless Chromium and waits (in real time, up
// to TIMEOUT_S) until the page has streamed an answer: prints #status and exits 0 when it says
// "selftest ok ...", 1 otherwise. Chromium is driven over --remote-debugging-pipe (the DevTools
// protocol as NUL-terminated JSON on fds 3 and 4), so no extra npm package is needed.
//   node page_selftest.mjs URL PROFILE_DIR [TIMEOUT_S]
import { spawn } from "node:child_process";

const [url, profile, timeoutS = "120"] = process.argv.slice(2);
const chromium = spawn("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
  "--remote-debugging-pipe", `--user-data-dir=${profile}`, url], { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"] });
const toBrowser = chromium.stdio[3], fromBrowser = chromium.stdio[4];

let nextId = 1, buffer = "";
const waiting = new Map();
fromBrowser.on("data", (data) => {
  buffer += data.toString();
  let end;
  while ((end = buffer.indexOf("\0")) >= 0) {
    const message = JSON.parse(buffer.slice(0, end));
    buffer = buffer.slice(end + 1);
    if (message.id && waiting.has(message.id)) { waiting.get(message.id)(message); waiting.delete(message.id); }
  }
});
function send(method, params = {}, sessionId = undefined) {
  const id = nextId++;
  toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + "\0");
  return new Promise((resolve) => waiting.set(id, resolve));
}
function finish(code, text) {
  console.log(text);
  chromium.kill("SIGKILL");
  process.exit(code);
}
setTimeout(() => finish(1, `no answer in the page within ${timeoutS} s`), Number(timeoutS) * 1000);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let page;
while (!page) {  // the page target appears once Chromium has opened the URL
  const targets = (await send("Target.getTargets")).result?.targetInfos ?? [];
  page = targets.find((t) => t.type === "page" && t.url.startsWith(url.split("?")[0]));
  if (!page) await sleep(200);
}
const { sessionId } = (await send("Target.attachToTarget", { targetId: page.targetId, flatten: true })).result;
for (;;) {
  const reply = await send("Runtime.evaluate", { returnByValue: true,
    expression: "document.getElementById('status') ? document.getElementById('status').textContent : ''" }, sessionId);
  const status = reply.result?.result?.value ?? "";
  if (status.startsWith("selftest ok")) finish(0, status);
  if (status.startsWith("selftest failed")) finish(1, status);
  await sleep(250);
}
