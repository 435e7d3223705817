#!/usr/bin/python3
"""Packs the Hugging Face processor golden (pixel_values [256, 1536] of a formula image) compactly
for tests/image/hf_golden_test.cpp.

Each pixel value is one of 256 float32 levels (a normalised uint8). The golden is stored as
`levels.f32` (the 256 float32 values exactly as they appear in the golden, indexed by level) and
`pixel_levels.u8` (the level of every element). The script proves the packing lossless: it unpacks
and compares bit for bit, and checks the golden's own SHA-256 of its float32 little-endian bytes.

Usage: /usr/bin/python3 tools/goldens/extract_hf_pixel_golden.py \
         ../shared/data/hf-goldens/qwen3vl_2b_processor_256_describe
"""
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "image" / "hf_golden_256"


def main():
    src = Path(sys.argv[1])
    golden = json.loads((src / "expected.json").read_text())
    pv = golden["expected"]["pixel_values"]
    values = np.asarray(pv["data"], dtype=np.float32)
    assert list(values.shape) == pv["shape"]
    assert hashlib.sha256(values.astype("<f4").tobytes()).hexdigest() == pv["sha256_f32_le"]

    # Level of each value: the uint8 it came from, (v * 127.5 + 127.5) rounded.
    level = np.rint(values.astype(np.float64) * 127.5 + 127.5).astype(np.int64)
    assert level.min() >= 0 and level.max() <= 255
    table = np.full(256, np.nan, dtype=np.float32)
    for lv in np.unique(level):
        found = np.unique(values[level == lv].view(np.uint32))
        assert len(found) == 1, f"level {lv} maps to several floats"
        table[lv] = found.view(np.float32)[0]
    assert (table[level].view(np.uint32) == values.view(np.uint32)).all()  # lossless

    OUT.mkdir(parents=True, exist_ok=True)
    table.astype("<f4").tofile(OUT / "levels.f32")
    level.astype(np.uint8).tofile(OUT / "pixel_levels.u8")
    shutil.copyfile(src / "preprocessor_config.json", OUT / "preprocessor_config.json")
    (OUT / "manifest.json").write_text(json.dumps({
        "case": golden["case"],
        "image_formula_hwc_uint8": golden["inputs"]["image_formula_hwc_uint8"],
        "image_grid_thw": golden["expected"]["image_grid_thw"][0],
        "shape": pv["shape"],
        "sha256_f32_le": pv["sha256_f32_le"],
        "provenance": golden["provenance"],
    }, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
