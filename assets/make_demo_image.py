#!/usr/bin/python3
"""Draws assets/demo.jpg, the picture `scripts/demo` asks about: a house under a sun.

Run with Debian's python3-pil:  /usr/bin/python3 assets/make_demo_image.py
"""
from pathlib import Path

from PIL import Image, ImageDraw

W, H = 320, 240
img = Image.new("RGB", (W, H))
draw = ImageDraw.Draw(img)
for y in range(H):  # sky fading to the horizon, then grass
    if y < 170:
        draw.line([(0, y), (W, y)], fill=(90 + y // 2, 150 + y // 3, 235))
    else:
        draw.line([(0, y), (W, y)], fill=(60, 150 - (y - 170) // 2, 50))
draw.ellipse([240, 25, 290, 75], fill=(255, 220, 60))
draw.rectangle([90, 110, 190, 185], fill=(200, 80, 60))
draw.polygon([(80, 112), (140, 65), (200, 112)], fill=(120, 50, 40))
draw.rectangle([128, 145, 152, 185], fill=(90, 60, 30))
draw.rectangle([100, 125, 120, 145], fill=(200, 230, 255))
img.save(Path(__file__).resolve().parent / "demo.jpg", quality=90)
