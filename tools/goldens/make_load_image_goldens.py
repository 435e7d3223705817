#!/usr/bin/python3
"""Writes load_image reference data for tests/image (load_image_test.cpp).

Inputs of the kinds users send, and what Hugging Face's transformers.image_utils.load_image makes
of them: PIL.Image.open, ImageOps.exif_transpose, convert("RGB"). For each generated (or user)
file it stores the encoded file and that RGB image as a PNG, plus, in a manifest: the size, the
grid_thw of the default preprocessor budgets, the files Pillow refuses and why, the cut lengths
of truncated files (each refused by Pillow), and EXIF payloads with the orientation Pillow reads.

Kinds: EXIF orientation 1..8 in JPEG (APP1), PNG (eXIf, before and after the image data) and
WebP (EXIF chunk, with and without the "Exif\\0\\0" marker); CMYK JPEGs (Adobe, no Adobe marker,
YCCK); PNG layouts Pillow cannot write (2- and 4-bit grey, 16-bit with alpha, Adam7); GIF first
frames (interlaced, transparent, animated, offset or oversized frames, short palettes); animated
WebP first frames; truncated files of every format.

Run with Debian's python3-pil and python3-numpy:  /usr/bin/python3 tools/goldens/make_load_image_goldens.py
"""
import io
import json
import re
import shutil
import struct
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_image_goldens import PATCH, pattern, smart_resize  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "image" / "load_image"
USER_INPUTS = ROOT / "tests" / "data" / "image" / "user-inputs"
MIN_PIXELS, MAX_PIXELS = 65536, 16777216  # PreprocessorConfig defaults
TRUNCATION_FRACTIONS = (0.2, 0.5, 0.8, 0.95)


def load_image(data):
    """transformers.image_utils.load_image on bytes."""
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")


def encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def rgb(w, h, seed):
    return Image.fromarray(pattern(w, h, seed), "RGB")


# ---- EXIF payloads -------------------------------------------------------------------------

def tiff(entries, endian="<", magic=None, ifd_offset=8, tail=b""):
    """A TIFF structure with one directory: entries are (tag, type, count, 4-byte value field)."""
    order = b"II" if endian == "<" else b"MM"
    magic = magic if magic is not None else struct.pack(endian + "H", 42)
    body = struct.pack(endian + "H", len(entries))
    for tag, typ, count, value in entries:
        body += struct.pack(endian + "HHI", tag, typ, count) + value
    body += struct.pack(endian + "I", 0)
    return order + magic + struct.pack(endian + "I", ifd_offset) + b"\0" * (ifd_offset - 8) + body + tail


def short(value, endian="<"):
    return struct.pack(endian + "HH", value, 0)


def orientation_tiff(o, endian="<"):
    return tiff([(0x010F, 2, 4, b"pio\0"), (0x0112, 3, 1, short(o, endian))], endian)


def exif_payload_cases():
    """(name, TIFF bytes) whose orientation, or refusal, Pillow decides."""
    le = "<"
    at26 = struct.pack(le + "I", 26)  # just after a one-entry directory
    cases = [
        ("short_le", tiff([(0x112, 3, 1, short(6))])),
        ("short_be", tiff([(0x112, 3, 1, short(6, ">"))], ">")),
        ("long_le", tiff([(0x112, 4, 1, struct.pack("<I", 8))])),
        ("long_be", tiff([(0x112, 4, 1, struct.pack(">I", 5))], ">")),
        ("sshort", tiff([(0x112, 8, 1, struct.pack("<hH", 7, 0))])),
        ("slong", tiff([(0x112, 9, 1, struct.pack("<i", 2))])),
        ("sbyte", tiff([(0x112, 6, 1, bytes([4, 0, 0, 0]))])),
        ("byte", tiff([(0x112, 1, 1, bytes([6, 0, 0, 0]))])),
        ("ascii", tiff([(0x112, 2, 2, b"6\0\0\0")])),
        ("undefined", tiff([(0x112, 7, 1, bytes([6, 0, 0, 0]))])),
        ("rational_exact", tiff([(0x112, 5, 1, at26)], tail=struct.pack("<II", 12, 2))),
        ("rational_inexact", tiff([(0x112, 5, 1, at26)], tail=struct.pack("<II", 13, 2))),
        ("rational_zero_den", tiff([(0x112, 5, 1, at26)], tail=struct.pack("<II", 6, 0))),
        ("srational", tiff([(0x112, 10, 1, at26)], tail=struct.pack("<ii", -16, -2))),
        ("float", tiff([(0x112, 11, 1, struct.pack("<f", 3.0))])),
        ("double", tiff([(0x112, 12, 1, at26)], tail=struct.pack("<d", 6.0))),
        ("long8", tiff([(0x112, 16, 1, at26)], tail=struct.pack("<Q", 6))),
        ("ifd_type", tiff([(0x112, 13, 1, struct.pack("<I", 6))])),
        ("unknown_type", tiff([(0x112, 99, 1, short(6))])),
        ("count_two", tiff([(0x112, 3, 2, struct.pack("<HH", 6, 1))])),
        ("count_three_pointer", tiff([(0x112, 3, 3, at26)], tail=struct.pack("<HHH", 8, 1, 1))),
        ("count_zero", tiff([(0x112, 3, 0, short(6))])),
        ("value_9", tiff([(0x112, 3, 1, short(9))])),
        ("value_1", tiff([(0x112, 3, 1, short(1))])),
        ("negative", tiff([(0x112, 8, 1, struct.pack("<hH", -2, 0))])),
        ("huge_long", tiff([(0x112, 4, 1, struct.pack("<I", 2**32 - 2))])),
        ("duplicate_last_wins", tiff([(0x112, 3, 1, short(3)), (0x112, 3, 1, short(6))])),
        ("duplicate_unknown_type_kept", tiff([(0x112, 3, 1, short(3)), (0x112, 99, 1, short(6))])),
        ("duplicate_byte_overrides", tiff([(0x112, 3, 1, short(3)), (0x112, 1, 1, bytes([6, 0, 0, 0]))])),
        ("ifd_at_12", tiff([(0x112, 3, 1, short(6))], ifd_offset=12)),
        ("ifd_past_end", b"II*\0" + struct.pack("<I", 100)),
        ("count_past_end", b"II*\0" + struct.pack("<IH", 8, 3) + struct.pack("<HHI", 0x112, 3, 1) + short(6)),
        ("entry_cut_short", b"II*\0" + struct.pack("<IH", 8, 2) + struct.pack("<HHI", 0x100, 3, 1)
         + short(6) + struct.pack("<HHI", 0x112, 3, 1) + b"\x06"),
        ("pointer_past_end_stops", tiff([(0x100, 3, 3, struct.pack("<I", 500)), (0x112, 3, 1, short(6))])),
        ("magic_swapped_le", tiff([(0x112, 3, 1, short(6))], magic=b"\0*")),
        ("magic_swapped_be", tiff([(0x112, 3, 1, short(6, ">"))], ">", magic=b"*\0")),
        ("empty", b""),
        ("bad_order", b"XX*\0" + struct.pack("<I", 8) + b"\0" * 6),
        ("bad_magic", b"II+\0" + struct.pack("<I", 8) + b"\0" * 6),
        ("short_header", b"II*\0\x08"),
    ]
    out = []
    for name, payload in cases:
        exif = Image.Exif()
        try:
            exif.load(b"Exif\0\0" + payload)
            value = exif.get(0x0112)
            method = {2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1, 8: 1}.get(value)
            # exif_transpose acts on 2..8 (a dict lookup, so 6.0 counts and b"\x06" does not)
            orientation = int(float(value)) if method else 1
            out.append({"name": name, "hex": payload.hex(), "orientation": orientation})
        except Exception as e:  # load_image raises too
            out.append({"name": name, "hex": payload.hex(), "error": f"{type(e).__name__}: {e}"})
    return out


# ---- container surgery -----------------------------------------------------------------------

def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_raw(samples, depth, color_type, interlace=False, plte=None):
    """A PNG of `samples` (height x width x channels) at `depth` bits, every row unfiltered,
    optionally Adam7-interlaced: layouts Pillow cannot write."""
    h, w = samples.shape[:2]

    def rows(img):
        out = b""
        for row in img:
            flat = row.reshape(-1)
            if depth == 16:
                data = flat.astype(">u2").tobytes()
            elif depth == 8:
                data = flat.astype(np.uint8).tobytes()
            else:
                bits = np.unpackbits(flat.astype(np.uint8)[:, None], axis=1)[:, 8 - depth:]
                data = np.packbits(bits.reshape(-1)).tobytes()
            out += b"\0" + data
        return out

    if interlace:  # the seven passes: first row, first column, row step, column step
        passes = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)]
        raw = b"".join(rows(samples[y0::dy, x0::dx]) for y0, x0, dy, dx in passes
                       if samples[y0::dy, x0::dx].size)
    else:
        raw = rows(samples)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + (png_chunk(b"PLTE", plte) if plte else b"")
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def png_chunks(data):
    at, chunks = 8, []
    while at < len(data):
        (n,) = struct.unpack(">I", data[at:at + 4])
        chunks.append((data[at + 4:at + 8], data[at + 8:at + 8 + n]))
        at += 12 + n
    return chunks


def png_with_exif(png, before=None, after=None):
    """`png` with eXIf chunks inserted before the first IDAT and/or after the last one."""
    out = b"\x89PNG\r\n\x1a\n"
    chunks = png_chunks(png)
    last_idat = max(i for i, (t, _) in enumerate(chunks) if t == b"IDAT")
    for i, (tag, body) in enumerate(chunks):
        if tag == b"IDAT" and before is not None and chunks[i - 1][0] != b"IDAT":
            out += png_chunk(b"eXIf", before)
        out += png_chunk(tag, body)
        if i == last_idat and after is not None:
            out += png_chunk(b"eXIf", after)
    return out


def riff_chunk(tag, data):
    return tag + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def webp_extended(simple_webp, width, height, exif):
    """A VP8X WebP holding a simple file's bitstream chunk and an EXIF chunk as given."""
    bitstream = simple_webp[12:]
    vp8x = bytes([0x08, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + riff_chunk(b"VP8X", vp8x) + bitstream + riff_chunk(b"EXIF", exif)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def jpeg_segments(data):
    """(marker, segment bytes with marker and length) up to SOS, then the rest."""
    at, segs = 2, []
    while True:
        marker = data[at + 1]
        (n,) = struct.unpack(">H", data[at + 2:at + 4])
        if marker == 0xDA:
            return segs, data[at:]
        segs.append((marker, data[at:at + 2 + n]))
        at += 2 + n


def jpeg_edit(data, drop=(), patch=None):
    """A JPEG without the segments whose markers are in `drop`; `patch` rewrites segments."""
    segs, rest = jpeg_segments(data)
    out = data[:2]
    for marker, seg in segs:
        if marker in drop:
            continue
        out += patch(marker, seg) if patch else seg
    return out + rest


def adobe_transform(transform):
    def patch(marker, seg):
        if marker == 0xEE and seg[4:9] == b"Adobe":
            return seg[:15] + bytes([transform]) + seg[16:]
        return seg
    return patch


def repeat_first_scan(progressive, copies):
    """A progressive JPEG whose first (DC) scan is repeated: many scans, few bytes."""
    segs, rest = jpeg_segments(progressive)
    head = progressive[:2] + b"".join(seg for _, seg in segs)
    at = 2 + struct.unpack(">H", rest[2:4])[0]
    while rest[at] != 0xFF or rest[at + 1] == 0x00 or 0xD0 <= rest[at + 1] <= 0xD7:  # to the next marker
        at += 1
    return head + rest[:at] * copies + rest[at:]


def gif_layout(gif, screen=None, frame_at=None, palette_entries=None):
    """Rewrites a one-frame Pillow GIF: logical screen size, frame position, or a global palette
    cut to `palette_entries` (a power of two) while the image data keeps its 8-bit indices."""
    data = bytearray(gif)
    flags = data[10]
    palette_len = 3 << ((flags & 7) + 1) if flags & 0x80 else 0
    if palette_entries is not None:
        bits = palette_entries.bit_length() - 2
        data[10] = (flags & ~7) | bits
        data = data[:13 + 3 * palette_entries] + data[13 + palette_len:]
        palette_len = 3 * palette_entries
    if screen:
        data[6:10] = struct.pack("<HH", *screen)
    if frame_at:
        at = 13 + palette_len
        while data[at] == 0x21:  # skip extensions
            at += 2
            while data[at]:
                at += data[at] + 1
            at += 1
        assert data[at] == 0x2C
        data[at + 1:at + 5] = struct.pack("<HH", *frame_at)
    return bytes(data)


def gif_with_frame_transparency(gif, index):
    """Adds a graphic control extension with transparent index `index` before the frame."""
    data = bytearray(gif)
    flags = data[10]
    at = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    gce = b"\x21\xF9\x04\x01\x00\x00" + bytes([index]) + b"\x00"
    return bytes(data[:at] + gce + data[at:])


# ---- the cases ---------------------------------------------------------------------------------

def decoded_cases():
    """(kind, name, extension, encoded bytes)."""
    cases = []

    def add(kind, name, ext, data):
        cases.append((kind, name, ext, data))

    base = rgb(24, 16, 200)
    for o in range(1, 9):
        endian = "<" if o % 2 else ">"
        add("orientation", f"jpeg_exif{o}_24x16", "jpg",
            encode(base, "JPEG", quality=95, exif=b"Exif\0\0" + orientation_tiff(o, endian)))
        add("orientation", f"png_exif{o}_24x16", "png", encode(base, "PNG", exif=orientation_tiff(o, endian)))
        lossless = encode(base, "WEBP", lossless=True)
        marker = b"Exif\0\0" if o % 2 else b""
        add("orientation", f"webp_exif{o}_24x16", "webp",
            webp_extended(lossless, 24, 16, marker + orientation_tiff(o, endian)))
    plain_png = encode(base, "PNG")
    add("orientation", "png_exif6_after_idat", "png", png_with_exif(plain_png, after=orientation_tiff(6)))
    add("orientation", "png_exif3_before_6_after", "png",
        png_with_exif(plain_png, before=orientation_tiff(3), after=orientation_tiff(6)))
    add("orientation", "webp_lossy_exif8_40x24", "webp",
        webp_extended(encode(rgb(40, 24, 201), "WEBP", quality=80), 40, 24, orientation_tiff(8)))

    cmyk = Image.fromarray(np.concatenate([pattern(40, 24, 210), pattern(40, 24, 211)[..., :1]], axis=-1), "CMYK")
    cmyk_jpeg = encode(cmyk, "JPEG", quality=95)
    add("cmyk", "cmyk_adobe_40x24", "jpg", cmyk_jpeg)
    add("cmyk", "cmyk_no_adobe_40x24", "jpg", jpeg_edit(cmyk_jpeg, drop=(0xEE,)))
    add("cmyk", "ycck_40x24", "jpg", jpeg_edit(cmyk_jpeg, patch=adobe_transform(2)))
    k = np.repeat(np.arange(0, 256, 4, dtype=np.uint8)[:, None], 64, axis=1)
    c = k.T.copy()
    ramp = Image.fromarray(np.stack([c, 255 - c, c // 2, k], axis=-1), "CMYK")
    add("cmyk", "cmyk_ramp_64x64", "jpg", encode(ramp, "JPEG", quality=100))
    add("cmyk", "cmyk_exif6_40x24", "jpg",
        encode(cmyk, "JPEG", quality=90, exif=b"Exif\0\0" + orientation_tiff(6)))

    palette_img = rgb(50, 30, 220).convert("P", palette=Image.ADAPTIVE, colors=60)
    add("gif", "gif_interlaced_50x30", "gif", encode(palette_img, "GIF"))
    add("gif", "gif_progressive_rows_50x30", "gif", encode(palette_img, "GIF", interlace=False))
    add("gif", "gif_transparent_50x30", "gif", encode(palette_img, "GIF", transparency=5))
    frames = [rgb(40, 24, 221 + i).convert("P", palette=Image.ADAPTIVE, colors=32) for i in range(3)]
    add("gif", "gif_animated_40x24", "gif",
        encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0))
    small = rgb(20, 10, 224).convert("P", palette=Image.ADAPTIVE, colors=16)
    small_gif = encode(small, "GIF", interlace=False)
    add("gif", "gif_offset_frame_30x20", "gif", gif_layout(small_gif, screen=(30, 20), frame_at=(5, 4)))
    add("gif", "gif_offset_frame_transparent_30x20", "gif",
        gif_with_frame_transparency(gif_layout(small_gif, screen=(30, 20), frame_at=(7, 9)), 3))
    add("gif", "gif_frame_past_screen", "gif", gif_layout(small_gif, screen=(12, 8), frame_at=(3, 2)))
    indices = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16), "P")
    indices.putpalette(bytes(range(256)) * 3)
    add("gif", "gif_short_palette_16x16", "gif",
        gif_layout(encode(indices, "GIF", optimize=False), palette_entries=2))
    add("gif", "gif_grey_36x20", "gif", encode(rgb(36, 20, 225).convert("L"), "GIF"))

    noise = np.random.default_rng(260)
    add("png", "png_grey2_21x13", "png", png_raw(noise.integers(0, 4, (13, 21, 1)), 2, 0))
    add("png", "png_grey4_21x13", "png", png_raw(noise.integers(0, 16, (13, 21, 1)), 4, 0))
    add("png", "png_grey_alpha16_21x13", "png", png_raw(noise.integers(0, 65536, (13, 21, 2)), 16, 4))
    add("png", "png_rgba16_21x13", "png", png_raw(noise.integers(0, 65536, (13, 21, 4)), 16, 6))
    add("png", "png_adam7_rgb_37x23", "png", png_raw(pattern(37, 23, 261), 8, 2, interlace=True))
    add("png", "png_adam7_bilevel_19x11", "png", png_raw(noise.integers(0, 2, (11, 19, 1)), 1, 0, interlace=True))
    add("png", "png_adam7_palette4_short_19x11", "png",
        png_raw(noise.integers(0, 16, (11, 19, 1)), 4, 3, interlace=True, plte=bytes(range(30))))

    anim = [rgb(40, 24, 230 + i) for i in range(2)]
    add("animated_webp", "webp_anim_lossless_40x24", "webp",
        encode(anim[0], "WEBP", save_all=True, append_images=anim[1:], lossless=True, duration=80))
    add("animated_webp", "webp_anim_lossy_40x24", "webp",
        encode(anim[0], "WEBP", save_all=True, append_images=anim[1:], quality=70, duration=80))
    alpha = [im.convert("RGBA") for im in anim]
    alpha[0].putalpha(Image.fromarray(pattern(40, 24, 232)[..., 2], "L"))
    add("animated_webp", "webp_anim_alpha_40x24", "webp",
        encode(alpha[0], "WEBP", save_all=True, append_images=alpha[1:], lossless=True, duration=80))
    return cases


def truncation_sources():
    """(name, extension, full file) whose cuts must all be refused as truncated."""
    img = rgb(48, 40, 240)
    return [
        ("jpeg_baseline_48x40", "jpg", encode(img, "JPEG", quality=90)),
        ("jpeg_progressive_48x40", "jpg", encode(img, "JPEG", quality=90, progressive=True)),
        ("png_48x40", "png", encode(img, "PNG")),
        ("png_adam7_48x40", "png", png_raw(np.asarray(img), 8, 2, interlace=True)),
        ("webp_lossy_48x40", "webp", encode(img, "WEBP", quality=80)),
        ("webp_lossless_48x40", "webp", encode(img, "WEBP", lossless=True)),
        ("webp_anim_48x40", "webp", encode(img, "WEBP", save_all=True, append_images=[rgb(48, 40, 241)])),
        ("bmp_48x40", "bmp", encode(img, "BMP")),
        ("bmp_palette_48x40", "bmp", encode(img.convert("P", palette=Image.ADAPTIVE, colors=16), "BMP")),
        ("gif_48x40", "gif", encode(img.convert("P", palette=Image.ADAPTIVE), "GIF")),
    ]


def grid(width, height):
    h, w = smart_resize(height, width, MIN_PIXELS, MAX_PIXELS)
    return [1, h // PATCH, w // PATCH]


def main():
    warnings.simplefilter("ignore")  # Pillow warns about every corrupt EXIF payload
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    decoded, refused, truncated = [], [], []

    def record_decoded(kind, name, path):
        img = load_image(path.read_bytes())
        img.save(OUT / f"{name}.decoded.png")
        decoded.append({"kind": kind, "name": name, "file": str(path.relative_to(OUT.parent)),
                        "decoded": f"load_image/{name}.decoded.png", "width": img.width,
                        "height": img.height, "grid_thw": grid(img.width, img.height)})

    def record_refused(name, path, reason):
        try:
            load_image(path.read_bytes())
        except Exception as e:
            refused.append({"name": name, "file": str(path.relative_to(OUT.parent)), "reason": reason,
                            "pillow": re.sub(r" object at 0x[0-9a-f]+", "", f"{type(e).__name__}: {e}")})
            return
        raise SystemExit(f"{name}: Pillow accepts it")

    for kind, name, ext, data in decoded_cases():
        (OUT / f"{name}.{ext}").write_bytes(data)
        record_decoded(kind, name, OUT / f"{name}.{ext}")

    for name in ("min_exif6_64x32.jpg", "min_cmyk_black_32.jpg", "min_anim_32.webp", "still_240.gif"):
        record_decoded("user", Path(name).stem, USER_INPUTS / name)
    record_refused("min_truncated_64", USER_INPUTS / "min_truncated_64.jpg", "truncated")

    # EXIF that is not TIFF: Pillow's getexif raises, except in a JPEG without a JFIF dpi, whose
    # opening already read the EXIF for a dpi and dropped the error (_read_dpi_from_exif).
    bad_tiff = b"XX*\0" + bytes(12)
    for name, ext, data in [
        ("jpeg_bad_exif_dpi", "jpg", encode(rgb(16, 8, 250), "JPEG", dpi=(72, 72), exif=b"Exif\0\0" + bad_tiff)),
        ("png_bad_exif", "png", encode(rgb(16, 8, 250), "PNG", exif=bad_tiff)),
    ]:
        (OUT / f"{name}.{ext}").write_bytes(data)
        record_refused(name, OUT / f"{name}.{ext}", "invalid EXIF data")
    short_tiff = encode(rgb(16, 8, 250), "JPEG", exif=b"Exif\0\0II*\0\x08")
    (OUT / "jpeg_short_exif_header.jpg").write_bytes(short_tiff)
    record_refused("jpeg_short_exif_header", OUT / "jpeg_short_exif_header.jpg", "invalid EXIF data")
    (OUT / "jpeg_bad_exif_no_dpi.jpg").write_bytes(
        encode(rgb(16, 8, 250), "JPEG", exif=b"Exif\0\0" + bad_tiff))
    record_decoded("orientation", "jpeg_bad_exif_no_dpi", OUT / "jpeg_bad_exif_no_dpi.jpg")
    one_frame = encode(rgb(8, 8, 251).convert("P"), "GIF")
    no_image = one_frame[:13 + (3 << ((one_frame[10] & 7) + 1))] + b";"  # screen, palette, trailer
    (OUT / "gif_no_image.gif").write_bytes(no_image)
    record_refused("gif_no_image", OUT / "gif_no_image.gif", "no image")

    for name, ext, data in truncation_sources():
        (OUT / f"{name}.{ext}").write_bytes(data)
        cuts = sorted({int(len(data) * f) for f in TRUNCATION_FRACTIONS})
        for n in cuts:
            try:
                load_image(data[:n])
            except Exception:
                continue
            raise SystemExit(f"{name}: Pillow accepts the first {n} bytes")
        load_image(data)  # the whole file decodes
        truncated.append({"name": name, "file": f"load_image/{name}.{ext}", "cut_lengths": cuts})

    # Pillow decodes this (slowly for large images); pio refuses over 500 scans, as libjpeg-turbo
    # advises for untrusted data.
    many_scans = repeat_first_scan(encode(rgb(16, 16, 252), "JPEG", progressive=True), 600)
    load_image(many_scans)
    (OUT / "jpeg_600_scans.jpg").write_bytes(many_scans)

    manifest = {"decoded": decoded, "refused": refused, "truncated": truncated,
                "exif_payloads": exif_payload_cases()}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(decoded)} decoded, {len(refused)} refused, {len(truncated)} truncated sources "
          f"written to {OUT}")


if __name__ == "__main__":
    main()
