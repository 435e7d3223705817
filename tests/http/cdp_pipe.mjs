// A minimal DevTools-protocol client for headless Chromium, for the chat page tests: Chromium is
// driven over --remote-debugging-pipe (JSON messages ended by NUL on fds 3 and 4), so no npm
// package is needed.
//   const page = await openPage(url, profileDir);  // attached to the tab that shows url
//   await page.send("Runtime.evaluate", {...});    // a command's result (throws its error)
//   page.on("Network.requestWillBeSent", fn);      // events of the tab
//   page.close();                                   // kills Chromium
import { spawn } from "node:child_process";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts Chromium on url with its profile in profileDir; resolves once attached to the page's
// tab and the page has loaded.
export async function openPage(url, profileDir, { width = 1000, height = 900 } = {}) {
  const chromium = spawn("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--remote-debugging-pipe", `--user-data-dir=${profileDir}`, `--window-size=${width},${height}`, url],
    { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"] });
  const toBrowser = chromium.stdio[3], fromBrowser = chromium.stdio[4];
  let nextId = 1, buffer = "", sessionId;
  const waiting = new Map(), listeners = new Map();
  fromBrowser.on("data", (data) => {
    buffer += data.toString();
    let end;
    while ((end = buffer.indexOf("\0")) >= 0) {
      const message = JSON.parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      if (message.id && waiting.has(message.id)) {
        waiting.get(message.id)(message);
        waiting.delete(message.id);
      } else if (message.method && listeners.has(message.method)) {
        for (const fn of listeners.get(message.method)) fn(message.params);
      }
    }
  });
  const raw = (method, params = {}, session = undefined) => {
    const id = nextId++;
    toBrowser.write(JSON.stringify({ id, method, params, ...(session ? { sessionId: session } : {}) }) + "\0");
    return new Promise((resolve, reject) => waiting.set(id, (m) =>
      m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
  };
  let target;
  for (let i = 0; !target; ++i) {  // the tab appears once Chromium has opened the URL
    if (i > 300) throw new Error("Chromium opened no tab");
    const { targetInfos } = await raw("Target.getTargets");
    target = targetInfos.find((t) => t.type === "page" && t.url.startsWith(url.split("?")[0]));
    if (!target) await sleep(200);
  }
  ({ sessionId } = await raw("Target.attachToTarget", { targetId: target.targetId, flatten: true }));
  for (let i = 0; ; ++i) {  // the tab may still show its first, empty document
    const { result } = await raw("Runtime.evaluate", { returnByValue: true,
      expression: `location.href === ${JSON.stringify(url)} && document.readyState === "complete"` }, sessionId);
    if (result.value) break;
    if (i > 300) throw new Error(`Chromium did not load ${url}`);
    await sleep(100);
  }
  return {
    send: (method, params = {}) => raw(method, params, sessionId),
    on: (method, fn) => listeners.set(method, [...(listeners.get(method) ?? []), fn]),
    close: () => chromium.kill("SIGKILL"),
  };
}
