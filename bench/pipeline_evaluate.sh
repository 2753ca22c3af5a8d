#!/usr/bin/env bash
# Evaluate seconds per epoch at 128x128 on 600 Kvasir-SEG training pairs
# (UNet++ depth 4, width 32, batch 8, 2 threads), one epoch (EPOCHS=N: N).
#   bench/pipeline_evaluate.sh BUILD/pipeline/segq-run [DATA_DIR]
# DEVICE=cuda:0 runs it on a GPU (default cpu).
set -euo pipefail
RUN=${1:?usage: $0 SEGQ_RUN [DATA_DIR]}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${2:-${SEGQ_DATA_DIR:-$HERE/../../shared/data}}/kvasir-seg-256
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/real/images" "$T/real/masks" "$T/test/images" "$T/test/masks"
i=0
for f in $(ls "$DATA/images" | sort | head -n 608); do
    d=real; [ $i -ge 600 ] && d=test
    ln -s "$DATA/images/$f" "$T/$d/images/$f"; ln -s "$DATA/masks/$f" "$T/$d/masks/$f"
    i=$((i + 1))
done
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
"$RUN" evaluate --real "$T/real" --test "$T/test" --out "$T/out" --epochs "${EPOCHS:-1}" --size 128 \
    --val-fraction 0 --threads 2 --examples 0 --device "${DEVICE:-cpu}" |
    awk '/CPU-s\/epoch\)/ { gsub(/[(,]/, "", $(NF-3)); s = $(NF-3); c = $(NF-1) }
         END { printf "evaluate 128x128, 600 pairs, 2 threads, '"${DEVICE:-cpu}"': %.1f s/epoch wall, %.1f CPU-s/epoch\n", s, c }'
