#!/usr/bin/python3
"""Writes Pillow reference data for tests/image (pillow_golden_test.cpp).

For each generated image it stores the encoded file, Pillow's Image.open(f).convert("RGB") as a
PNG (the decode reference), and Pillow's BICUBIC resize of that to the smart_resize size as a PNG
(the resample reference), plus a manifest with the pixel budgets, sizes and grid.

Run with Debian's python3-pil and python3-numpy:  /usr/bin/python3 tools/goldens/make_image_goldens.py
"""
import io
import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "image" / "pillow"
FACTOR = 32  # patch 16 x merge 2
PATCH = 16


def smart_resize(height, width, min_pixels, max_pixels):
    """transformers' Qwen2-VL smart_resize, in plain Python (round() is half-to-even)."""
    h_bar = round(height / FACTOR) * FACTOR
    w_bar = round(width / FACTOR) * FACTOR
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(FACTOR, math.floor(height / beta / FACTOR) * FACTOR)
        w_bar = max(FACTOR, math.floor(width / beta / FACTOR) * FACTOR)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / FACTOR) * FACTOR
        w_bar = math.ceil(width * beta / FACTOR) * FACTOR
    return h_bar, w_bar


def pattern(w, h, seed):
    """Smooth gradients, hard-edged checks and a noisy band: flat areas, ringing and clamping."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1))
    g = (y * 255 // max(h - 1, 1))
    b = (((x // 7) + (y // 5)) % 2) * 255
    img = np.stack([r, g, b], axis=-1).astype(np.uint8)
    band = slice(h // 3, h // 3 + max(1, h // 4))
    img[band] = rng.integers(0, 256, size=img[band].shape, dtype=np.uint8)
    return img


def png16(arr, color_type):
    """A 16-bit PNG (Pillow cannot write 16-bit RGB): colour type 0 (grey) or 2 (RGB)."""
    h, w = arr.shape[:2]
    rows = arr.astype(">u2").reshape(h, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def make_cases():
    """(name, extension, encoded bytes, min_pixels, max_pixels)."""
    up = (128 * 128, 256 * 256)      # small images grow to at least 16384 pixels
    down = (32 * 32, 96 * 96)        # larger images shrink to at most 9216 pixels
    mid = (64 * 64, 160 * 160)
    cases = []

    def add(name, ext, data, budget):
        cases.append((name, ext, data, *budget))

    def rgb(w, h, seed):
        return Image.fromarray(pattern(w, h, seed), "RGB")

    for i, (w, h, budget) in enumerate([(37, 23, up), (128, 128, mid), (300, 200, down),
                                        (200, 300, down), (64, 500, down), (17, 17, up),
                                        (1000, 6, mid), (250, 90, mid), (33, 31, up)]):
        add(f"rgb_{w}x{h}", "png", encode(rgb(w, h, i), "PNG"), budget)
    add("rgb_default_budget_70x50", "png", encode(rgb(70, 50, 99), "PNG"), (65536, 16777216))

    for i, (w, h, budget) in enumerate([(45, 61, up), (220, 180, down), (96, 40, mid)]):
        im = rgb(w, h, 10 + i).convert("RGBA")
        alpha = np.random.default_rng(20 + i).integers(0, 256, (h, w), dtype=np.uint8)
        im.putalpha(Image.fromarray(alpha, "L"))
        add(f"rgba_{w}x{h}", "png", encode(im, "PNG"), budget)

    for i, (w, h, budget) in enumerate([(50, 70, up), (210, 150, down), (129, 127, mid)]):
        add(f"grey_{w}x{h}", "png", encode(rgb(w, h, 30 + i).convert("L"), "PNG"), budget)
    for i, (w, h, budget) in enumerate([(40, 44, up), (180, 200, down)]):
        add(f"grey_alpha_{w}x{h}", "png", encode(rgb(w, h, 40 + i).convert("LA"), "PNG"), budget)

    for i, (w, h, budget) in enumerate([(60, 30, up), (190, 170, down), (100, 100, mid)]):
        im = rgb(w, h, 50 + i).convert("P", palette=Image.ADAPTIVE, colors=64 >> i)
        kw = {"transparency": 3} if i == 1 else {}
        add(f"palette_{w}x{h}", "png", encode(im, "PNG", **kw), budget)
    add("bilevel_90x64", "png", encode(rgb(90, 64, 55).convert("1"), "PNG"), mid)

    # 16-bit grey: Pillow clips to 255 (mode "I"); half the levels below 256 keep detail.
    g16 = np.random.default_rng(60).integers(0, 65536, (48, 72)).astype(np.uint16)
    g16[:, :36] = np.random.default_rng(61).integers(0, 300, (48, 36))
    add("grey16_72x48", "png", png16(g16, 0), up)
    g16b = (pattern(160, 140, 62)[..., 0].astype(np.uint16) * 257 // 200)
    add("grey16_160x140", "png", png16(g16b, 0), down)
    rgb16 = np.random.default_rng(63).integers(0, 65536, (50, 66, 3)).astype(np.uint16)
    add("rgb16_66x50", "png", png16(rgb16, 2), up)

    for i, (w, h, budget, kw) in enumerate([(120, 80, mid, {"quality": 90}),
                                            (231, 177, down, {"quality": 75}),
                                            (47, 53, up, {"quality": 95, "subsampling": 0})]):
        add(f"jpeg_{w}x{h}", "jpg", encode(rgb(w, h, 70 + i), "JPEG", **kw), budget)
    add("jpeg_grey_150x110", "jpg", encode(rgb(150, 110, 74).convert("L"), "JPEG", quality=85),
        down)

    add("webp_lossy_140x100", "webp", encode(rgb(140, 100, 80), "WEBP", quality=80), mid)
    add("webp_lossless_70x90", "webp", encode(rgb(70, 90, 81), "WEBP", lossless=True), up)
    im = rgb(110, 60, 82).convert("RGBA")
    im.putalpha(128)
    add("webp_alpha_110x60", "webp", encode(im, "WEBP", lossless=True), mid)

    add("bmp_24bit_130x70", "bmp", encode(rgb(130, 70, 90), "BMP"), mid)
    add("bmp_24bit_255x201", "bmp", encode(rgb(255, 201, 91), "BMP"), down)
    add("bmp_palette_64x48", "bmp",
        encode(rgb(64, 48, 92).convert("P", palette=Image.ADAPTIVE, colors=16), "BMP"), up)
    add("bmp_grey_81x59", "bmp", encode(rgb(81, 59, 93).convert("L"), "BMP"), up)
    return cases


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    manifest = []
    for name, ext, data, min_pixels, max_pixels in make_cases():
        src = f"{name}.{ext}"
        (OUT / src).write_bytes(data)
        opened = Image.open(OUT / src)
        decoded = opened.convert("RGB")
        h, w = smart_resize(decoded.height, decoded.width, min_pixels, max_pixels)
        decoded.save(OUT / f"{name}.decoded.png")
        decoded.resize((w, h), Image.BICUBIC).save(OUT / f"{name}.resized.png")
        manifest.append({
            "name": name, "file": src, "pillow_mode": opened.mode,
            "width": decoded.width, "height": decoded.height,
            "min_pixels": min_pixels, "max_pixels": max_pixels,
            "resized_height": h, "resized_width": w, "grid_thw": [1, h // PATCH, w // PATCH],
            "decoded": f"{name}.decoded.png", "resized": f"{name}.resized.png",
        })
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(manifest)} images written to {OUT}")


if __name__ == "__main__":
    main()
