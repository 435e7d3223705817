// The tokenizer golden corpus: hand-picked strings per category plus seeded random mixes.
// Avoids characters newer than Unicode 14 (PCRE2 10.42's tables; node's are newer).

// A small deterministic PRNG (mulberry32) so the corpus is the same on every run.
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const categories = {
  english: [
    "Hello, world!", "The quick brown fox jumps over the lazy dog.",
    "Describe this image.", "What is in the picture?",
    "I'm sure you'll see they've done it, and we'd agree it's fine.",
    "I'M SURE YOU'LL SEE THEY'VE DONE IT, AND WE'D AGREE IT'S FINE.",
    "iT'S, yOu'Re, We'Ve, i'M, tHeY'lL, sHe'D, DoN'T", "'s 't 're 've 'm 'll 'd",
    "rock'n'roll o'clock y'all", "e-mail: someone@example.com, https://example.org/a?b=c&d=e#f",
    "Mr. Smith paid $1,234.56 on 2024-03-15 at 10:45pm (UTC+2).",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "  leading spaces", "trailing spaces   ", "tabs\tbetween\twords", "a", "A", " ", "",
    "Ünïcödé façade naïve café résumé coöperate", "ﬁnance ﬂow (ligatures)",
  ],
  chinese: [
    "你好，世界！", "今天天气很好，我们去公园散步吧。", "请描述这张图片中的内容。",
    "机器学习是人工智能的一个分支。", "《红楼梦》是中国古典四大名著之一。",
    "价格：￥1,299.00（含税）", "繁體中文與簡體中文", "他说：“我明天再来。”",
  ],
  japanese: [
    "こんにちは、世界！", "今日はいい天気ですね。", "カタカナとひらがなと漢字が混ざった文章。",
    "東京スカイツリーは高さ634メートルです。", "ｶﾀｶﾅ半角とカタカナ全角", "が ぎ ぐ げ ご（濁点）",
  ],
  korean: ["안녕하세요, 세계!", "한국어 문장을 토큰화합니다.", "ᄒᆞᆫ글 옛한글 조합"],
  arabic: [
    "مرحبا بالعالم", "اللغة العربية جميلة جدا.", "السَّلَامُ عَلَيْكُمْ", "١٢٣ ٤٥٦ أرقام عربية",
    "שלום עולם", "Привет, мир! Как дела?", "Γειά σου Κόσμε", "नमस्ते दुनिया", "สวัสดีชาวโลก",
  ],
  emoji: [
    "😀😃😄😁", "👍🏽 thumbs up", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "🧑🏿‍💻 coder",
    "❤️ ♥ ❤", "🇫🇷🇯🇵🇺🇸", "emoji at end 🎉", "👩‍❤️‍💋‍👨", "1️⃣ 2️⃣ #️⃣", "☕️🍵🧋",
  ],
  combining: [
    "e\u0301", "cafe\u0301", "A\u030A", "\u0041\u0308\u0304", "n\u0303o", "o\u0308\u0301",
    "\u1100\u1161\u11A8", "\u0915\u094D\u0937", "a\u0328\u0301", "Z\u0336a\u0336l\u0336g\u0336o\u0336",
    "\u212B \u2126 \u00C5", "\uFB01 \u2160 \u00BD", "\u0387 \u037E", "\u0BC6\u0BBE",
  ],
  code: [
    "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "const x = {a: 1, 'b': [2, 3]};", "#include <iostream>\nint main() { return 0; }\n",
    "SELECT * FROM users WHERE id = 42;", "if x != None and y >= 3:\n\tpass",
    "<div class=\"box\">Hello</div>", "$ ls -la | grep '.txt' > out.log 2>&1",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }", "x=>x**2; a&&b||c; i+=1;",
    "{\"key\": \"value\", \"list\": [1, 2.5, null, true]}", "// comment\n/* block */\n",
  ],
  numbers: [
    "0", "42", "3.14159265358979", "1,000,000", "-273.15", "1e-10", "0xDEADBEEF",
    "2024年3月15日", "12345678901234567890", "½ ¼ ¾ ² ³", "Ⅻ ⅻ", "٣٫١٤", "१२३",
  ],
  whitespace: [
    "a  b", "a   b", "a\n\nb", "a \n b", "line1\r\nline2\r\n", "\r\n\r\n", "\n", "\t\t",
    " \t \n", "word \u00A0nbsp", "ideographic\u3000space", "em\u2003space", "x\u2028y\u2029z",
    "next\u0085line", "bom\uFEFFinside", "zero\u200Bwidth", "\v\f",
  ],
  // Where JavaScript's regex semantics (the reference's) differ from PCRE2's defaults.
  regexEdges: [
    "a  \uFEFF", "x \u0085\u0085 y", "\u0085 \u0085", "end  \u0085", "tab\t\uFEFF\n",
    "  \uFEFF\uFEFF", "he'\u017Ftop", "DON'\u017FT", "it'\u017F", "\u0085\u0085\u0085",
  ],
  lookalikes: [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|image_pad|>", "<|vision_start|>",
    "<|im_start|>user\nhi<|im_end|>", "<|im_start|", "|im_end|>", "<|im_end|", "<||>", "<|>",
    "< |im_end| >", "<|IM_END|>", "<|im_end|><|im_end|>", "x<|endoftext|>y", "<think>ok</think>",
    "<tool_call>{}</tool_call>", "<|vision_start|><|image_pad|><|vision_end|>", "<|fim_prefix|>",
    "<<|im_end|>>", "<|im_start|><|im_start|>", "text <|box_start|>(1,2)<|box_end|>",
  ],
};

// Raw byte strings with ill-formed UTF-8 (kept as bytes; the reference reads them through
// TextDecoder, i.e. with U+FFFD replacement).
export const invalidUtf8 = [
  [0x80], [0xbf], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80], [0xf5], [0xff], [0xfe, 0xff], [0xc3], [0xe4, 0xb8], [0xf0, 0x9f, 0x98],
  [0x61, 0x80, 0x62], [0x61, 0xc3, 0x62], [0x61, 0xe4, 0xb8, 0x62], [0xf0, 0x9f, 0x61],
  [0x48, 0x69, 0x20, 0xf0, 0x9f, 0x98], [0xc3, 0xa9, 0xc3], [0xe2, 0x82, 0xac, 0x80, 0x80],
  [0x3c, 0x7c, 0x69, 0x6d, 0xff, 0x7c, 0x3e], [0xef, 0xbb, 0xbf, 0x61], [0xed, 0x9f, 0xbf],
  [0xf0, 0x90, 0x80], [0xc2, 0x20], [0xe0, 0xa0], [0x20, 0x20, 0x80, 0x20, 0x20],
  [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfc, 0x84, 0x80, 0x80, 0x80, 0x80], [0x0a, 0xc0, 0x0d, 0x0a],
];

const separators = ["", " ", "  ", "\n", "\r\n", "\t", " \n ", ", ", "   \n\n"];

// Strings built by mixing fragments of several categories.
function mixes(count, random) {
  const pool = Object.values(categories).flat().filter((s) => s.length > 0);
  const out = [];
  for (let i = 0; i < count; ++i) {
    const parts = 2 + Math.floor(random() * 4);
    let s = "";
    for (let p = 0; p < parts; ++p) {
      if (p > 0) s += separators[Math.floor(random() * separators.length)];
      s += pool[Math.floor(random() * pool.length)];
    }
    out.push(s);
  }
  return out;
}

function longStrings() {
  return [
    " ".repeat(50), " ".repeat(257), " ".repeat(3000) + "x", "\n".repeat(100), "\t".repeat(64),
    " \n".repeat(200), "a" + " ".repeat(1000) + "b", "9".repeat(300), "ab".repeat(600),
    "中".repeat(500), "😀".repeat(200), "-".repeat(400), "=".repeat(129) + "\r\n",
    categories.code.join("\n").repeat(5), categories.chinese.join("").repeat(3),
  ];
}

// Variants that stress case and surrounding whitespace.
function variants(strings) {
  const out = [];
  for (const s of strings) {
    out.push(s.toUpperCase(), ` ${s} `, `${s}\r\n`);
  }
  return out;
}

// Returns [{text} | {bytes}] in a fixed order.
export function buildCorpus() {
  const random = rng(20240315);
  const base = Object.values(categories).flat();
  const texts = [
    ...base, ...variants(categories.english.concat(categories.lookalikes)),
    ...longStrings(), ...mixes(300, random),
  ];
  return [...texts.map((text) => ({ text })), ...invalidUtf8.map((bytes) => ({ bytes }))];
}
