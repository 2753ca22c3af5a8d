#!/usr/bin/env bash
# Stylize seconds per step at 213x250 (the size of a SinGAN-Seg sample of
# Kvasir-SEG), on 2 threads: one image alone, and 4 (and 8 in bf16) images
# batched (per image), in fp32 and bf16; then whether bf16 gives the same result as
# fp32 (criterion below). Wall and CPU seconds per step both: on a shared
# machine the CPU figure is the one that does not depend on the others.
# Random VGG19 weights (same arithmetic as the real ones); needs
# /usr/bin/python3 with torch to write them.
#   bench/pipeline_stylize.sh BUILD/pipeline/segq-run [STEPS [SAME_STEPS]]
#
# "The same result": stylize is an optimisation, so the question is whether
# bf16 reaches as good an image as fp32, by fp32's own measure. Three runs
# of SAME_STEPS steps: fp32; fp32 from a start image with 8-bit rounding
# noise (each value -1, 0 or +1 of 255: what any re-encoding of the
# content does, so a difference no user can control); bf16. bf16 counts as
# the same when its final loss, evaluated in fp32 (final_losses.csv), is
# within 1% of fp32's or no further than the noisy fp32 run's, and its
# pixels are no further from fp32's than 2x the noisy run's are.
set -euo pipefail
RUN=${1:?usage: $0 SEGQ_RUN [STEPS [SAME_STEPS]]}
STEPS=${2:-20}
SAME_STEPS=${3:-100}
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
for sub in ("c/images", "c/masks", "c8/images", "c8/masks", "one/images", "one/masks", "noisy/images", "noisy/masks", "real"):
    os.makedirs(os.path.join(d, sub), exist_ok=True)
png(os.path.join(d, "real/style.png"), w, h, 3, [random.randrange(256) for _ in range(w * h * 3)])
mask = [255 if (x - 125) ** 2 + (y - 106) ** 2 < 2500 else 0 for y in range(h) for x in range(w)]
for i in range(8):
    pix = [(x * 7 + y * 3 * (i + 1) + c * 50) % 256 for y in range(h) for x in range(w) for c in range(3)]
    png(os.path.join(d, f"c8/images/s{i}.png"), w, h, 3, pix)
    png(os.path.join(d, f"c8/masks/s{i}.png"), w, h, 1, mask)
    if i < 4:
        png(os.path.join(d, f"c/images/s{i}.png"), w, h, 3, pix)
        png(os.path.join(d, f"c/masks/s{i}.png"), w, h, 1, mask)
    if i == 0:
        png(os.path.join(d, "one/images/s0.png"), w, h, 3, pix)
        png(os.path.join(d, "one/masks/s0.png"), w, h, 1, mask)
        png(os.path.join(d, "noisy/images/s0.png"), w, h, 3,
            [min(255, max(0, v + random.choice((-1, 0, 1)))) for v in pix])
        png(os.path.join(d, "noisy/masks/s0.png"), w, h, 1, mask)
PY
run() { # dataset batch precision out steps -> "wall CPU" seconds per step per image
    # steps 2..STEPS (segq-run logs the running mean at step 1 and STEPS):
    # what each of a long run's steps costs, without the one-off first step
    "$RUN" stylize --content "$T/$1" --style "$T/real/style.png" --vgg19 "$T/vgg19.safetensors" \
        --out "$T/$4" --steps "$5" --threads 2 --batch "$2" --precision "$3" --log-every "$5" |
        awk -v n="$2" -v s="$5" '/CPU-s\/step\)/ { gsub(/[(,]/, "", $(NF-3)); k++; w[k] = $(NF-3); c[k] = $(NF-1) }
            END { if (s > 1) { w[2] = (w[2] * s - w[1]) / (s - 1); c[2] = (c[2] * s - c[1]) / (s - 1) } else k = 1
                  printf "%.3f s/step wall, %.3f CPU-s/step", w[k] / n, c[k] / n }'
}
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "stylize 213x250, steps 2-$STEPS, 2 threads (authors' code: 0.33 s/step), per image:"
echo "  fp32, 1 image:             $(run one 1 fp32 o1 "$STEPS")"
echo "  fp32, 4 images batched:    $(run c 4 fp32 o4 "$STEPS")"
echo "  bf16, 1 image:             $(run one 1 bf16 o1b "$STEPS")"
echo "  bf16, 4 images batched:    $(run c 4 bf16 o4b "$STEPS")"
echo "  bf16, 8 images batched:    $(run c8 8 bf16 o8b "$STEPS")"
echo "bf16 vs fp32 after $SAME_STEPS steps (one image; load $(cut -d' ' -f1-3 /proc/loadavg)):"
run one 1 fp32 s32 "$SAME_STEPS" >/dev/null
run noisy 1 fp32 s32n "$SAME_STEPS" >/dev/null
run one 1 bf16 s16 "$SAME_STEPS" >/dev/null
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
def final(name):
    row = open(f"{d}/{name}/final_losses.csv").read().strip().split("\n")[1].split(",")
    return float(row[1]), float(row[2]), float(row[3])
d = sys.argv[1]
ref = read_png(f"{d}/s32/images/s0.png")
def diff(name):
    o = read_png(f"{d}/{name}/images/s0.png"); dd = [abs(x - y) for x, y in zip(ref, o)]
    return sum(dd) / len(dd), max(dd)
f32, f32n, f16 = final("s32"), final("s32n"), final("s16")
pn, pb = diff("s32n"), diff("s16")
for label, f in (("fp32", f32), ("fp32, noisy start", f32n), ("bf16", f16)):
    print(f"  {label:18s} final loss (fp32 measure): content {f[0]:.5g} style {f[1]:.5g} total {f[2]:.5g}"
          f" ({100 * (f[2] - f32[2]) / f32[2]:+.2f}% vs fp32)")
print(f"  pixels vs fp32: noisy fp32 start mean |diff| {pn[0]:.3f}/255 (max {pn[1]}), "
      f"bf16 {pb[0]:.3f}/255 (max {pb[1]})")
loss_ok = abs(f16[2] - f32[2]) <= max(0.01 * f32[2], abs(f32n[2] - f32[2]))
pix_ok = pb[0] <= 2 * pn[0]
print(f"  bf16 same result as fp32: {'yes' if loss_ok and pix_ok else 'NO'} (loss {'ok' if loss_ok else 'differs'}, "
      f"pixels {'ok' if pix_ok else 'differ'})")
PY
