#!/usr/bin/env bash
# Stylize seconds per step at 213x250 (the size of a SinGAN-Seg sample of
# Kvasir-SEG), on 2 threads: one image alone, and 4 images batched (per
# image), in fp32 and bf16, plus how far the bf16 pixels land from fp32.
# Random VGG19 weights (same arithmetic as the real ones); needs
# /usr/bin/python3 with torch to write them.
#   bench/pipeline_stylize.sh BUILD/pipeline/segq-run [STEPS]
set -euo pipefail
RUN=${1:?usage: $0 SEGQ_RUN [STEPS]}
STEPS=${2:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
/usr/bin/python3 "$HERE/../tests/pipeline/stylize_reference.py" weights "$T" 1
/usr/bin/python3 - "$T" <<'PY'
import os, struct, sys, zlib, random
def png(path, w, h, ch, pix):
    raw = b"".join(b"\0" + bytes(pix[y * w * ch:(y + 1) * w * ch]) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2 if ch == 3 else 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
d = sys.argv[1]; w, h = 250, 213
random.seed(1)
for sub in ("c/images", "c/masks", "real"):
    os.makedirs(os.path.join(d, sub), exist_ok=True)
png(os.path.join(d, "real/style.png"), w, h, 3, [random.randrange(256) for _ in range(w * h * 3)])
for i in range(4):
    png(os.path.join(d, f"c/images/s{i}.png"), w, h, 3,
        [(x * 7 + y * 3 * (i + 1) + c * 50) % 256 for y in range(h) for x in range(w) for c in range(3)])
    png(os.path.join(d, f"c/masks/s{i}.png"), w, h, 1, [255 if (x - 125) ** 2 + (y - 106) ** 2 < 2500 else 0 for y in range(h) for x in range(w)])
PY
mkdir -p "$T/one/images" "$T/one/masks"
cp "$T/c/images/s0.png" "$T/one/images/"; cp "$T/c/masks/s0.png" "$T/one/masks/"
step() { # dataset batch precision out -> seconds per step per image
    "$RUN" stylize --content "$T/$1" --style "$T/real/style.png" --vgg19 "$T/vgg19.safetensors" \
        --out "$T/$4" --steps "$STEPS" --threads 2 --batch "$2" --precision "$3" \
        --log-every "$STEPS" | awk -v n="$2" '/s\/step\)/ { gsub(/[(]/, "", $(NF-1)); s = $(NF-1) } END { printf "%.3f", s / n }'
}
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "stylize 213x250, $STEPS steps, 2 threads (authors' code: 0.33 s/step):"
echo "  fp32, 1 image:             $(step one 1 fp32 o1) s/step"
echo "  fp32, 4 images batched:    $(step c 4 fp32 o4) s/step per image"
echo "  bf16, 4 images batched:    $(step c 4 bf16 o4b) s/step per image"
/usr/bin/python3 - "$T" <<'PY'
import sys, zlib, struct
def read_png(p):
    b = open(p, "rb").read(); i = 8; idat = b""; w = h = 0
    while i < len(b):
        n = struct.unpack(">I", b[i:i+4])[0]; t = b[i+4:i+8]; d = b[i+8:i+8+n]; i += 12 + n
        if t == b"IHDR": w, h = struct.unpack(">II", d[:8])
        if t == b"IDAT": idat += d
    raw = zlib.decompress(idat); stride = w * 3; out = bytearray(); prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]; line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - 3] if x >= 3 else 0; up = prev[x]; c = prev[x - 3] if x >= 3 else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + up) & 255
            elif f == 3: line[x] = (line[x] + (a + up) // 2) & 255
            elif f == 4:
                p = a + up - c; pa, pb, pc = abs(p - a), abs(p - up), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else up if pb <= pc else c)) & 255
        out += line; prev = line
    return out
d = sys.argv[1]
a, b = read_png(f"{d}/o4/images/s0.png"), read_png(f"{d}/o4b/images/s0.png")
diff = [abs(x - y) for x, y in zip(a, b)]
print(f"  bf16 vs fp32 output pixels: mean |diff| {sum(diff) / len(diff):.3f} / 255, max {max(diff)}")
for name in ("o4", "o4b"):
    last = open(f"{d}/{name}/losses.csv").read().strip().split("\n")[-1].split(",")
    print(f"  {'bf16' if name == 'o4b' else 'fp32'} final losses: content {float(last[3]):.5g} style {float(last[4]):.5g}")
PY
