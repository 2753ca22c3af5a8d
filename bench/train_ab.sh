#!/usr/bin/env bash
# bench/train_ab.sh: two builds of segq-run training the same image,
# alternately, so that the machine's drift (10-20% between runs minutes
# apart on a shared VM) falls on both alike. Prints each run's steady
# seconds per iteration at every scale and their sum.
#
#   bench/train_ab.sh SEGQ_RUN_A SEGQ_RUN_B [IMAGE MASK]
#
# Env: ROUNDS (default 2), PRECISIONS (default "bf16 fp32"), NITER
# (iterations per scale, default 3), THREADS (default 2).
set -euo pipefail
if [ $# -ne 2 ] && [ $# -ne 4 ]; then
  echo "usage: $0 SEGQ_RUN_A SEGQ_RUN_B [IMAGE MASK]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")/.." && pwd)
data=${SEGQ_DATA_DIR:-$here/../shared/data}
image=${3:-$data/kvasir-seg-orig/images/cju0qkwl35piu0993l0dewei2.jpg}
mask=${4:-$data/kvasir-seg-orig/masks/cju0qkwl35piu0993l0dewei2.jpg}
for run in "$1" "$2"; do
  [ -x "$run" ] || { echo "$0: $run is not an executable segq-run" >&2; exit 2; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "A: $1"
echo "B: $2"
echo "round precision build load: steady s/iter at scales 1..9 | sum"
for round in $(seq "${ROUNDS:-2}"); do
  for precision in ${PRECISIONS:-bf16 fp32}; do
    for build in A B; do
      run=$1
      [ "$build" = B ] && run=$2
      log=$out/$build-$precision-$round.log
      "$run" train --image "$image" --mask "$mask" --out "$out/model" --niter "${NITER:-3}" \
        --threads "${THREADS:-2}" --precision "$precision" --previews 0 --seed 1 > "$log"
      rm -rf "$out/model"
      printf '%s %s %s %s: ' "$round" "$precision" "$build" "$(cut -d' ' -f1 /proc/loadavg)"
      sed -nE 's/^scale .*, ([0-9.]+) s\/iter after the first.*/\1/p' "$log" |
        awk '{ printf "%s ", $1; s += $1 } END { printf "| %.3f\n", s }'
    done
  done
done
