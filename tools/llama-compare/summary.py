"""Medians of bench.sh's interleaved rounds, one table row per figure: OUTDIR -> stdout.
  python3 summary.py OUTDIR"""
import json, re, statistics, sys
from pathlib import Path
d = Path(sys.argv[1])
rows = {k: ([], []) for k in ("prefill 128", "prefill 512", "decode", "vision 448x448 (s)")}
pct, samp = [], []
for r in (1, 2, 3):
    try:
        ll = json.loads((d / f"llama-text-{r}.json").read_text())
        pio = json.loads((d / f"pio-text-{r}.json").read_text())
        vis = json.loads((d / f"pio-vision-{r}.json").read_text())
        mt = re.search(r"image slice encoded in (\d+) ms", (d / f"mtmd-{r}.err").read_text() + (d / f"mtmd-{r}.out").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        continue
    by = {(x["n_prompt"], x["n_gen"]): x["avg_ts"] for x in ll}
    rows["prefill 128"][0].append(by[(128, 0)]); rows["prefill 128"][1].append(pio["prefill_tok_s_128"])
    rows["prefill 512"][0].append(by[(512, 0)]); rows["prefill 512"][1].append(pio["prefill_tok_s_512"])
    rows["decode"][0].append(by[(0, 32)]); rows["decode"][1].append(pio["decode_tok_s"])
    rows["vision 448x448 (s)"][0].append(int(mt.group(1)) / 1000); rows["vision 448x448 (s)"][1].append(vis["vision_encode_s_448x448"])
    pct.append(pio.get("decode_bandwidth_pct", 0)); samp.append(pio.get("sample_top_p_ms", 0))
for name, (a, b) in rows.items():
    if not a: continue
    ma, mb = statistics.median(a), statistics.median(b)
    ratio = mb / ma  # pio / llama.cpp: tokens/s, or seconds for the vision row
    print(f"| {name} | {ma:.2f} | {mb:.2f} | {ratio:.2f} | llama {', '.join(f'{x:.2f}' for x in a)}; pio {', '.join(f'{x:.2f}' for x in b)}")
print("decode bandwidth pct", [round(x, 1) for x in pct], "sample_top_p_ms", [round(x, 2) for x in samp])
