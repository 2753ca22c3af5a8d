#!/usr/bin/env bash
# bench/pipeline_queue_overhead.sh: what the queue costs a training. The same
# `segq-run train` (default sizes, a fixed small iteration count per scale)
# run alone and through segqd + segq-worker + `segq submit/wait`, alternately,
# on the same machine; prints both wall times, the difference in seconds and
# percent (goal: under 1%), and the load average around each run.
#
#   bench/pipeline_queue_overhead.sh [BUILD_DIR] [NITER] [ROUNDS] [THREADS]
#     defaults: build/release, 20 iterations per scale, 2 rounds, 2 threads
#   SEGQ_BENCH_IMAGE / SEGQ_BENCH_MASK: a real pair (default: a 622x529
#     procedural sample from `segq-run sample`, Kvasir-SEG's typical size)
#
# Wall times on a shared machine swing with the load, so the script also
# separates what the queue adds from the training itself: the training
# body is the sum of the per-scale times segq-run logs (in the queue: the
# job's log, fetched with `segq logs`), and "outside the training" is the
# wall time minus that body: process start, loading, checkpoint writes, and
# for the queue also upload, dispatch, spawn, output upload and the wait.
set -euo pipefail
shopt -s inherit_errexit

build=${1:-build/release}
niter=${2:-20}
rounds=${3:-2}
threads=${4:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/deploy/local_queue.sh"

segq=$build/client/segq
segq_run=$build/pipeline/segq-run
tmp=$(mktemp -d "${TMPDIR:-/tmp}/segq-bench-overhead-XXXXXX")
on_exit() {
  local_queue_stop --now
  [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

local_queue_start "$build" "$tmp/queue" "$threads"

image=${SEGQ_BENCH_IMAGE:-}
mask=${SEGQ_BENCH_MASK:-}
if [ -z "$image" ]; then
  "$segq_run" sample --out "$tmp/sample" --seed 1 --size 622x529 >/dev/null
  image=$tmp/sample/image.png
  mask=$tmp/sample/mask.png
fi

now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }
# Sum of "N iterations in X s" of a train log: the training body.
body() { sed -n 's/.*iterations in \([0-9.]*\) s.*/\1/p' "$1" | awk '{s += $1} END {printf "%.2f", s}'; }

run_alone() {
  local out=$tmp/alone-$1
  local t0 t1
  t0=$(now)
  "$segq_run" train --image "$image" --mask "$mask" --out "$out" --niter "$niter" \
    --threads "$threads" --seed 1 >"$out.log" 2>&1
  t1=$(now)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}') $(body "$out.log")"
}

run_queue() {
  local t0 t1 job
  t0=$(now)
  job=$("$segq" submit train --input "image=$image" --input "mask=$mask" \
    --param "niter=$niter" --param seed=1 --cpu "$threads")
  "$segq" wait "$job" >/dev/null
  t1=$(now)
  "$segq" logs "$job" >"$tmp/queue-$1.log"
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}') $(body "$tmp/queue-$1.log")"
}

printf 'segq-run train, default sizes, %s iterations per scale, %s threads, %s\n' \
  "$niter" "$threads" "$(basename "$image")"
printf 'machine: %s, %s cores\n\n' \
  "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$(nproc)"
printf '%-6s %-6s %10s %10s %12s %10s\n' round how wall_s train_s outside_s load
sum_a=0 sum_q=0 sum_oa=0 sum_oq=0
for r in $(seq 1 "$rounds"); do
  # Alternate the order so a load trend does not favour one side.
  if [ $((r % 2)) -eq 1 ]; then order="alone queue"; else order="queue alone"; fi
  for how in $order; do
    l0=$(load)
    res=$("run_$how" "$r")
    l1=$(load)
    read -r wall tbody <<<"$res"
    outside=$(awk -v w="$wall" -v t="$tbody" 'BEGIN {print w - t}')
    printf '%-6s %-6s %10.2f %10.2f %12.2f %10s\n' "$r" "$how" "$wall" "$tbody" "$outside" "$l0-$l1"
    if [ "$how" = alone ]; then
      sum_a=$(awk -v s="$sum_a" -v w="$wall" 'BEGIN {print s + w}')
      sum_oa=$(awk -v s="$sum_oa" -v w="$outside" 'BEGIN {print s + w}')
    else
      sum_q=$(awk -v s="$sum_q" -v w="$wall" 'BEGIN {print s + w}')
      sum_oq=$(awk -v s="$sum_oq" -v w="$outside" 'BEGIN {print s + w}')
    fi
  done
done

awk -v a="$sum_a" -v q="$sum_q" -v oa="$sum_oa" -v oq="$sum_oq" -v n="$rounds" 'BEGIN {
  a /= n; q /= n; oa /= n; oq /= n
  printf "\nmean wall: alone %.2f s, through the queue %.2f s: %+.2f s (%+.2f%%)\n", a, q, q - a, 100 * (q - a) / a
  printf "outside the training body: alone %.2f s, queue %.2f s: the queue adds %+.2f s (%+.2f%% of the alone wall time; goal < 1%%)\n", oa, oq, oq - oa, 100 * (oq - oa) / a
}'
