// Writes tests/data/tokenizer/chat_goldens.json: conversations rendered by @huggingface/jinja
// from the checkpoint's own Qwen3-VL chat template, with the reference tokenizer's ids of
// the rendered text. The template is read from a file at generation time only:
//   node tools/goldens/chat_goldens.mjs [chat_template.jinja | tokenizer_config.json | chat_template.json]
// (default: ../shared/data/qwen3-vl-chat_template.jinja next to the repository).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dataPath, encode, jinja, referenceTokenizer } from "./reference.mjs";

function readTemplate(path) {
  if (!existsSync(path)) throw new Error(`chat template not found: ${path}`);
  const text = readFileSync(path, "utf8");
  return path.endsWith(".json") ? JSON.parse(text).chat_template : text;
}

const image = { type: "image" };
const video = { type: "video" };
const text = (t) => ({ type: "text", text: t });

// OpenAI-style tool definitions, rendered by the template with `tool | tojson`.
const weatherTool = { type: "function", function: { name: "get_weather", description: "Current weather; °C",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } };
const timeTool = { type: "function", function: { name: "get_time", parameters: { type: "object",
  properties: { zone: { type: "string", enum: ["UTC", "Asia/Tokyo"] }, precise: { type: "boolean" }, n: { type: "number", minimum: 1.5 } } } } };

const cases = [
  ["single_turn_text", [{ role: "user", content: "Hello!" }]],
  ["single_turn_image", [{ role: "user", content: [image, text("Describe this image.")] }]],
  ["system_prompt", [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "What is 2+2?" }]],
  ["system_prompt_parts", [
    { role: "system", content: [text("Be brief. "), text("Answer in French.")] },
    { role: "user", content: [text("Hi")] }]],
  ["multi_turn", [
    { role: "user", content: "Hi there" },
    { role: "assistant", content: "Hello! How can I help?" },
    { role: "user", content: [image, text("What is this?")] },
    { role: "assistant", content: [text("A cat.")] },
    { role: "user", content: "Thanks" }]],
  ["several_images", [{ role: "user", content: [image, image, text("Compare these."), image] }]],
  ["add_vision_id", [
    { role: "user", content: [image, text("First."), image] },
    { role: "assistant", content: "Two pictures." },
    { role: "user", content: [video, image, text("And these?"), video] }], { add_vision_id: true }],
  ["video_without_ids", [{ role: "user", content: [video, text("What happens?")] }]],
  ["no_generation_prompt", [
    { role: "user", content: "Question" },
    { role: "assistant", content: "Answer" }], { add_generation_prompt: false }],
  ["tool_results", [
    { role: "user", content: "Weather in Paris?" },
    { role: "assistant", content: "Let me check." },
    { role: "tool", content: "{\"temp\": 21}" },
    { role: "tool", content: [text("sunny"), image] },
    { role: "user", content: "Great" }], { add_vision_id: true }],
  ["whitespace_and_languages", [
    { role: "system", content: "  系统提示\r\n" },
    { role: "user", content: [text("  你好\r\n  world  "), image, text("\n\nこんにちは 👋🏽")] }]],
  ["assistant_parts_skip_images", [
    { role: "user", content: "Show me" },
    { role: "assistant", content: [text("Here: "), image, text("done")] },
    { role: "user", content: "ok" }]],
  ["late_system_is_ignored", [
    { role: "user", content: "a" },
    { role: "system", content: "ignored" },
    { role: "user", content: "b" }]],
  ["empty_user_text", [{ role: "user", content: "" }]],
  ["tools_with_system", [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: [image, text("Weather where this was taken?")] }], { tools: [weatherTool, timeTool] }],
  ["tool_call_round_trip", [
    { role: "user", content: "Weather in Paris and the time in Tokyo?" },
    { role: "assistant", content: "", tool_calls: [
      { id: "call_1", type: "function", function: { name: "get_weather", arguments: "{\"city\": \"Paris\"}" } },
      { id: "call_2", type: "function", function: { name: "get_time", arguments: "{\"zone\": \"Asia/Tokyo\"}" } }] },
    { role: "tool", tool_call_id: "call_1", content: "{\"temp_c\": 21}" },
    { role: "tool", tool_call_id: "call_2", content: "09:30" }], { tools: [weatherTool, timeTool] }],
  ["tool_call_after_content", [
    { role: "user", content: "Paris?" },
    { role: "assistant", content: "Checking.", tool_calls: [
      { type: "function", function: { name: "get_weather", arguments: "{\"city\": \"Paris\"}" } }] },
    { role: "tool", content: "sunny" }]],
];

const templatePath = process.argv[2] ??
  new URL("../../../shared/data/qwen3-vl-chat_template.jinja", import.meta.url).pathname;
const template = new (jinja().Template)(readTemplate(templatePath));
const toJson = new (jinja().Template)("{{ tool | tojson }}");
const tokenizer = referenceTokenizer();
const goldens = cases.map(([name, messages, options = {}]) => {
  const add_generation_prompt = options.add_generation_prompt ?? true;
  const add_vision_id = options.add_vision_id ?? false;
  const tools = options.tools ?? [];
  const rendered = template.render({ messages, add_generation_prompt, add_vision_id,
                                     ...(tools.length ? { tools } : {}) });
  // Each tool as the template's tojson writes it (the gateway's JSON writer is tested on these).
  const tools_json = tools.map((tool) => toJson.render({ tool }));
  return { name, messages, add_generation_prompt, add_vision_id, tools, tools_json, text: rendered,
           ids: encode(tokenizer, rendered) };
});
writeFileSync(dataPath("chat_goldens.json"), JSON.stringify(goldens, null, 1) + "\n");
console.log(`wrote ${goldens.length} chat goldens`);
