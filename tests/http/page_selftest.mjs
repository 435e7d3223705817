// Opens the node's chat page with ?selftest in headless Chromium and waits (in real time, up
// to TIMEOUT_S) until the page has streamed an answer: prints #status and exits 0 when it says
// "selftest ok ...", 1 otherwise.
//   node page_selftest.mjs URL PROFILE_DIR [TIMEOUT_S]
import { openPage } from "./cdp_pipe.mjs";

const [url, profile, timeoutS = "120"] = process.argv.slice(2);
let page;
function finish(code, text) {
  console.log(text);
  if (page) page.close();
  process.exit(code);
}
setTimeout(() => finish(1, `no answer in the page within ${timeoutS} s`), Number(timeoutS) * 1000);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
page = await openPage(url, profile);
for (;;) {
  const reply = await page.send("Runtime.evaluate", { returnByValue: true,
    expression: "document.getElementById('status') ? document.getElementById('status').textContent : ''" });
  const status = reply.result?.value ?? "";
  if (status.startsWith("selftest ok")) finish(0, status);
  if (status.startsWith("selftest failed")) finish(1, status);
  await sleep(250);
}
