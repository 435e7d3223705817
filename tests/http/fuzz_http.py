#!/usr/bin/env python3
"""Sends COUNT malformed requests to a node's HTTP API: truncated JSON, wrong types, huge
numbers, deep nesting, invalid UTF-8, bad base64, and corrupt, truncated, zero-size and
enormous-dimension PNG/JPEG/WebP/GIF/BMP images. Every answer must be a 4xx in OpenAI's error
shape (or a 200 for a mutation that is still a valid request); a 5xx, a dropped connection or
a non-JSON error fails. Deterministic (seeded).
    fuzz_http.py PORT DATA_DIR COUNT
"""
import base64
import http.client
import json
import random
import struct
import sys

port, data_dir, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rng = random.Random(20261130)
images = {name: open(f"{data_dir}/image/{name}", "rb").read() for name in [
    "pillow/rgb_37x23.png", "pillow/jpeg_47x53.jpg", "pillow/webp_lossy_140x100.webp",
    "pillow/bmp_24bit_130x70.bmp", "user-inputs/still_240.gif", "user-inputs/min_anim_32.webp"]}


def body(content, **extra):
    b = {"model": "tiny", "max_tokens": 1, "messages": [{"role": "user", "content": content}]}
    b.update(extra)
    return json.dumps(b).encode()


def image_body(data, url_prefix="data:image/png;base64,"):
    return body([{"type": "image_url", "image_url": {"url": url_prefix + base64.b64encode(data).decode()}},
                 {"type": "text", "text": "x"}])


def png_with_size(w, h):
    png = bytearray(images["pillow/rgb_37x23.png"])
    png[16:24] = struct.pack(">II", w, h)
    return bytes(png)


def bmp_with_size(w, h):
    bmp = bytearray(images["pillow/bmp_24bit_130x70.bmp"])
    bmp[18:26] = struct.pack("<ii", w, h)
    return bytes(bmp)


def jpeg_with_size(w, h):
    jpg = bytearray(images["pillow/jpeg_47x53.jpg"])
    i = 2
    while i + 9 < len(jpg):  # find the SOF0/SOF2 segment
        marker, length = jpg[i + 1], struct.unpack(">H", jpg[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC2):
            jpg[i + 5:i + 9] = struct.pack(">HH", h, w)
            break
        i += 2 + length
    return bytes(jpg)


def malformed():
    kind = rng.randrange(12)
    valid = body("Say hi.")
    if kind == 0:  # truncated JSON
        return valid[:rng.randrange(len(valid))]
    if kind == 1:  # wrong types
        field = rng.choice(["temperature", "top_p", "max_tokens", "seed", "stop", "stream", "messages", "n", "tools",
                            "stream_options", "top_k", "tool_choice"])
        value = rng.choice(["x", [], {}, [1, "a"], {"a": None}, True, -1, 1.5, "1"])
        return body("hi", **{field: value})
    if kind == 2:  # huge numbers
        number = rng.choice(["1e999", "-1e999", "1e308", "18446744073709551616", "-9223372036854775809", "1e-400"])
        field = rng.choice(["temperature", "max_tokens", "seed", "top_k"])
        return valid[:-1] + f', "{field}": {number}}}'.encode()
    if kind == 3:  # deep nesting
        depth = rng.choice([65, 1000, 100000])
        return b'{"messages": ' + b"[" * depth + b"]" * depth + b"}"
    if kind == 4:  # invalid UTF-8
        bad = rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
        return valid.replace(b"Say hi.", b"Say " + bad)
    if kind == 5:  # bad base64
        junk = rng.choice(["!!!!", "QQ=Q", "QUJD\nREVG", "Q", "====", "QUJ", "QU JD"])
        return body([{"type": "image_url", "image_url": {"url": "data:image/png;base64," + junk}}])
    if kind == 6:  # corrupt image: bytes flipped in the header area
        data = bytearray(rng.choice(list(images.values())))
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(min(len(data), 64))] = rng.randrange(256)
        return image_body(bytes(data))
    if kind == 7:  # truncated image
        data = rng.choice(list(images.values()))
        return image_body(data[:rng.randrange(len(data))])
    if kind == 8:  # zero-size and enormous declared dimensions
        w, h = rng.choice([(0, 10), (10, 0), (0, 0), (100000, 100000), (2**31 - 1, 2**31 - 1), (65535, 65535)])
        make = rng.choice([png_with_size, bmp_with_size, jpeg_with_size])
        return image_body(make(min(w, 65535) if make is jpeg_with_size else w, min(h, 65535) if make is jpeg_with_size else h))
    if kind == 9:  # random bytes as an image
        return image_body(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
    if kind == 10:  # random bytes as a body
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    # structurally odd messages
    return json.dumps({"max_tokens": 1, "messages": rng.choice([[{}], [{"role": "user"}], [{"role": "user", "content": [{}]}],
                                               [{"role": "user", "content": [{"type": "image_url"}]}],
                                               [{"role": "tool", "content": None}], None, [[]]])}).encode()


statuses = {}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for i in range(count):
    payload = malformed()
    try:
        conn.request("POST", "/v1/chat/completions", body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        text = response.read()
    except (http.client.HTTPException, OSError) as e:
        sys.exit(f"FAIL: request {i} dropped the connection ({e}): {payload[:120]!r}")
    statuses[response.status] = statuses.get(response.status, 0) + 1
    if response.status >= 500 or response.status not in (200, 400, 413, 422):
        sys.exit(f"FAIL: request {i} got {response.status} {text[:300]!r} for {payload[:120]!r}")
    if response.status != 200:
        error = json.loads(text)["error"]
        if not (isinstance(error["message"], str) and error["code"] == response.status):
            sys.exit(f"FAIL: request {i}: not the OpenAI error shape: {text[:300]!r}")
print(f"fuzz: {count} malformed requests, statuses {dict(sorted(statuses.items()))}")
