#!/usr/bin/env python3
"""Writes a stand-in contact sheet: a PNG grid of synthetic image/mask pairs.

usage: contact_sheet.py OUT.png [SEED]

The HTTP tests' stand-in segq-run draws it for `generate` (the real one
runs libtorch): pink endoscopy-like tiles with a darker polyp-like blob,
each beside its mask, so the status page's model thumbnails look like
what a lab sees. Standard library only (zlib); deterministic per SEED.
"""
import random
import struct
import sys
import zlib

TILE, PAIRS, COLUMNS = 48, 8, 4


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def pixel(pair, x, y, mask):
    cx, cy, r = pair
    inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r
    if mask:
        return (255, 255, 255) if inside else (0, 0, 0)
    shade = 30 if inside else 0
    return (200 - shade, 110 - shade + (x + y) % 7, 120 - shade)


def main():
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    pairs = [(rng.randint(12, 36), rng.randint(12, 36), rng.randint(6, 14)) for _ in range(PAIRS)]
    width, rows = COLUMNS * 2 * TILE, (PAIRS + COLUMNS - 1) // COLUMNS
    lines = []
    for y in range(rows * TILE):
        line = bytearray(b"\x00")
        for x in range(width):
            pair = pairs[(y // TILE) * COLUMNS + x // (2 * TILE)]
            line += bytes(pixel(pair, x % TILE, y % TILE, (x // TILE) % 2 == 1))
        lines.append(bytes(line))
    header = struct.pack(">IIBBBBB", width, rows * TILE, 8, 2, 0, 0, 0)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
           + chunk(b"IDAT", zlib.compress(b"".join(lines))) + chunk(b"IEND", b""))
    with open(sys.argv[1], "wb") as f:
        f.write(png)


if __name__ == "__main__":
    main()
