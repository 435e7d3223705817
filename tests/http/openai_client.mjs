// Drives a running pio-node through the official `openai` npm client (tools/test-node):
// models.list() and models.retrieve(), a non-streamed and a streamed chat completion with an image (the same request,
// so the same answer), and a tool-call round trip. Writes the answers for the caller to compare
// with `pio chat --node`; exits non-zero on any failed check.
//   node openai_client.mjs BASE_URL IMAGE OUT_DIR
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";

const require = createRequire(new URL("../../tools/test-node/package.json", import.meta.url));
const OpenAI = require("openai").default ?? require("openai");
const [baseURL, imagePath, outDir] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, timeout: 120000 });

function check(ok, what) {
  if (!ok) { console.error(`FAIL: ${what}`); process.exit(1); }
}

const models = await client.models.list();
check(models.data.length === 1 && models.data[0].id === "tiny", `models.list: ${JSON.stringify(models.data)}`);
const model = await client.models.retrieve("tiny");
check(model.id === "tiny" && model.object === "model", `models.retrieve: ${JSON.stringify(model)}`);
let missing = null;
try { await client.models.retrieve("other"); } catch (e) { missing = e; }
check(missing instanceof OpenAI.NotFoundError, `models.retrieve of an unknown model: ${missing}`);

const image = `data:image/jpeg;base64,${readFileSync(imagePath).toString("base64")}`;
const request = {
  model: "tiny",
  messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: image } },
                                       { type: "text", text: "Describe this image." }] }],
  max_tokens: 10, temperature: 0.7, seed: 3,
};
const whole = await client.chat.completions.create(request);
check(whole.object === "chat.completion", "object");
const answer = whole.choices[0].message.content;
check(typeof answer === "string" && answer.length > 0, "non-streamed answer");
check(whole.usage.completion_tokens === 10 && whole.usage.prompt_tokens > 0, `usage ${JSON.stringify(whole.usage)}`);
check(whole.usage.prompt_tokens_details.cached_tokens === 0, "cached_tokens");
writeFileSync(`${outDir}/openai_whole.txt`, answer);

const stream = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
let streamed = "", chunks = 0, usage = null, finish = null;
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  if (!chunk.choices.length) continue;
  if (chunk.choices[0].delta.content) { streamed += chunk.choices[0].delta.content; chunks++; }
  if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
}
check(streamed === answer, `streamed ${JSON.stringify(streamed)} != ${JSON.stringify(answer)}`);
check(chunks > 1, `one chunk per delta, got ${chunks}`);
check(finish === "length", `finish_reason ${finish}`);
check(usage && usage.total_tokens === usage.prompt_tokens + 10, `usage chunk ${JSON.stringify(usage)}`);
writeFileSync(`${outDir}/openai_stream.txt`, streamed);

// Tool calling: the tools go into the prompt, the model answers (a random model will not call
// them), then the conversation continues with a call and its result in the history.
const tools = [{ type: "function", function: { name: "get_weather", description: "Weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
const first = await client.chat.completions.create({ model: "tiny", tools, max_tokens: 6,
  messages: [{ role: "user", content: "Weather in Paris?" }] });
check(["stop", "length", "tool_calls"].includes(first.choices[0].finish_reason), "tool request finish_reason");
const withTools = first.usage.prompt_tokens;
const plain = await client.chat.completions.create({ model: "tiny", max_tokens: 1,
  messages: [{ role: "user", content: "Weather in Paris?" }] });
check(withTools > plain.usage.prompt_tokens + 50, `the tools are in the prompt (${withTools} vs ${plain.usage.prompt_tokens} tokens)`);
const second = await client.chat.completions.create({ model: "tiny", tools, max_tokens: 6, messages: [
  { role: "user", content: "Weather in Paris?" },
  { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function",
    function: { name: "get_weather", arguments: JSON.stringify({ city: "Paris" }) } }] },
  { role: "tool", tool_call_id: "call_1", content: "{\"temp_c\": 21}" }] });
check(typeof second.choices[0].message.content === "string", "answer after the tool result");
check(second.usage.prompt_tokens > withTools, "the call and its result are in the prompt");
console.log(`openai client: models.list and retrieve, chat (whole and ${chunks} chunks), tool round trip ok`);
