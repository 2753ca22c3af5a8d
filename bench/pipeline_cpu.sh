#!/usr/bin/env bash
# bench/pipeline_cpu.sh: SinGAN-Seg training seconds per iteration at every
# scale with the default parameters, next to the authors' figures, and
# generate samples/s at full size; fp32 and bf16.
#
#   bench/pipeline_cpu.sh [SEGQ_RUN] [IMAGE MASK]
#
# Env: NITER (iterations per scale, default 3; the first iteration of a
# scale is reported apart), THREADS (default 2), COUNT (samples, 20).
# The machine is shared: other processes' load inflates the figures, so
# the load average is printed with them.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
run=${1:-$here/build/release/pipeline/segq-run}
data=${SEGQ_DATA_DIR:-$here/../shared/data}
image=${2:-$data/kvasir-seg-orig/images/cju0qkwl35piu0993l0dewei2.jpg}
mask=${3:-$data/kvasir-seg-orig/masks/cju0qkwl35piu0993l0dewei2.jpg}
niter=${NITER:-3}
threads=${THREADS:-2}
count=${COUNT:-20}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# the authors' code, Debian PyTorch 1.13, 2 threads (SINGAN-SEG.md)
authors=(0.12 0.08 0.12 0.19 0.38 0.65 1.13 1.88 10.2)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# CPU time beside wall time: on a busy machine wall time mostly measures
# the others' load, CPU time (user + sys) what the run itself costs
TIMEFORMAT='%R s wall, %U s user, %S s sys'
for precision in fp32 bf16; do
  { time "$run" train --image "$image" --mask "$mask" --out "$out/$precision" --niter "$niter" \
      --threads "$threads" --precision "$precision" --previews 0 --seed 1 > "$out/$precision.log"; } \
    2> "$out/$precision.time"
  echo "train $precision, all scales: $(tail -1 "$out/$precision.time")"
done
echo "load average after training: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
# wall s/iter (what the goal is about) and CPU s/iter (user + sys of both
# threads: less sensitive to other processes' load than wall time)
printf "%-6s %-9s %-6s %10s %10s %8s %10s %10s %10s %10s\n" scale size width "fp32 s/it" "bf16 s/it" \
  authors fp32/auth bf16/auth "fp32 CPU" "bf16 CPU"
paste <(grep '^scale' "$out/fp32.log") <(grep '^scale' "$out/bf16.log") | \
  sed -E 's/^scale ([0-9]+)\/[0-9]+ \(([0-9x]+), width ([0-9]+)\).*, ([0-9.]+) s\/iter after the first, CPU ([0-9.]+) s\/iter.*\tscale.*, ([0-9.]+) s\/iter after the first, CPU ([0-9.]+) s\/iter.*/\1 \2 \3 \4 \6 \5 \7/' | \
  awk -v auth="${authors[*]}" 'BEGIN { split(auth, a, " ") }
    { t = a[$1]; printf "%-6s %-9s %-6s %10.3f %10.3f %8s %10.2f %10.2f %10.3f %10.3f\n", $1, $2, $3, $4, $5, t, $4 / t, $5 / t, $6, $7
      f += $4; b += $5; s += t; fc += $6; bc += $7 }
    END { printf "%-23s %10.3f %10.3f %8.2f %10.2f %10.2f %10.3f %10.3f\n", "all scales", f, b, s, f / s, b / s, fc, bc }'
echo "(where the time goes: SEGQ_PROFILE=FILE segq-run train ... appends an op-level profile of"
echo " every scale to FILE)"
echo
for precision in fp32 bf16; do
  for batch in 1 10; do
    { time "$run" generate --model "$out/fp32/model.safetensors" --out "$out/gen-$precision-$batch" \
        --count "$count" --batch "$batch" --threads "$threads" --precision "$precision" --seed 1 \
        > "$out/gen.log"; } 2> "$out/gen.time"
    echo "generate $precision batch $batch: $(tail -1 "$out/gen.log") [$(tail -1 "$out/gen.time")]"
  done
done
echo "(authors' code: 4.3 samples/s, 20 samples of 213x250 in 4.6 s, 2 threads)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
