#!/usr/bin/env bash
# bench/generate_hot.sh: the lab's generation service, hot against cold.
# A model is trained once (`segq-run train`, the published sizes, a few
# iterations per scale: generation costs the same whatever the training's
# quality); then, through segqd + segq-worker + `segq submit/wait/fetch`:
#   cold: a worker with --model-cache 0 (each generate a segq-run of its
#         own: process start, libtorch initialisation, checkpoint load);
#   hot:  a worker with its generation server, after one warm-up request.
# For each, ROUNDS requests of 16 pairs, submit to fetched files; prints
# each time, the medians of the times and of the pairs' own compute (the
# "generated N pairs ... in X s" of the job's log), and of the fixed cost
# (each request's time - its compute); then one request of 500 pairs from the hot server:
# pairs/s submit to fetched. Goal (CPU): the hot fixed cost at most a
# tenth of the cold one; (GPU) 16 hot pairs fetched in under 1 s and 3x
# faster than cold.
#
#   bench/generate_hot.sh [BUILD_DIR] [ROUNDS] [THREADS] [GPUS] [WAIT_MS] [BIG]
#     defaults: build/release, 5 rounds, 2 threads, "" (CPU; "auto": the
#     worker's GPUs, with --gpu-mem 2G per job), 50 (`segq wait
#     --interval`: how often it asks the broker; its default, 200 ms, adds
#     100 ms on average to every request, hot or cold), 500 (pairs of the
#     last request from the hot server; 0: none)
set -euo pipefail
shopt -s inherit_errexit

build=${1:-build/release}
rounds=${2:-5}
threads=${3:-2}
gpus=${4:-}
wait_ms=${5:-50}
big_count=${6:-500}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/deploy/local_queue.sh"

segq=$build/client/segq
segq_run=$build/pipeline/segq-run
tmp=$(mktemp -d "${TMPDIR:-/tmp}/segq-bench-hot-XXXXXX")
on_exit() {
  local_queue_stop --now
  [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

resources=(--cpu "$threads")
device=(--device cpu)
if [ -n "$gpus" ]; then
  resources=(--gpu-mem 2G)
  device=(--device cuda:0)
fi

"$segq_run" sample --out "$tmp/sample" --seed 1 --size 622x529 >/dev/null
echo "training a model (published sizes, 2 iterations a scale) ..."
"$segq_run" train --image "$tmp/sample/image.png" --mask "$tmp/sample/mask.png" \
  --out "$tmp/model" --niter 2 --previews 0 --threads "$threads" "${device[@]}" >"$tmp/train.log" 2>&1
model=$tmp/model/model.safetensors

now() { date +%s.%N; }
# One request of $1 pairs: prints "SECONDS COMPUTE_SECONDS".
request() {
  local count=$1 t0 t1 job dir
  t0=$(now)
  job=$("$segq" submit generate --model "$model" --count "$count" "${resources[@]}" 2>/dev/null)
  "$segq" wait --interval "$wait_ms" "$job" >/dev/null
  dir=$tmp/out-$job
  "$segq" fetch "$job" -o "$dir" >/dev/null
  t1=$(now)
  compute=$("$segq" logs "$job" | sed -n 's/^generated .* in \([0-9.]*\) s .*/\1/p' | tail -n 1)
  rm -rf "$dir"
  awk -v t0="$t0" -v t1="$t1" -v c="${compute:-0}" 'BEGIN { print t1 - t0, c }'
}
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

phase() {
  local name=$1 warm=$2
  local_queue_start "$build" "$tmp/$name" "$threads" "$gpus"
  if [ "$warm" = warm ]; then request 16 >/dev/null; fi
  : >"$tmp/$name.times"
  for r in $(seq 1 "$rounds"); do
    request 16 | tee -a "$tmp/$name.times" | awk -v n="$name" -v r="$r" \
      '{printf "%s %d: %.3f s submit to fetched, pairs computed in %.3f s\n", n, r, $1, $2}'
  done
  total=$(cut -d' ' -f1 "$tmp/$name.times" | median)
  compute=$(cut -d' ' -f2 "$tmp/$name.times" | median)
  fixed=$(awk '{print $1 - $2}' "$tmp/$name.times" | median)
  printf '%s: median %.3f s, pairs %.3f s, fixed cost %.3f s\n' "$name" "$total" "$compute" "$fixed"
  echo "$fixed" >"$tmp/$name.fixed"
  echo "$total" >"$tmp/$name.total"
}

SEGQ_WORKER_FLAGS="--model-cache 0" phase cold cold
local_queue_stop
phase hot warm
if [ "$big_count" -gt 0 ]; then
  read -r big _ < <(request "$big_count")
  awk -v n="$big_count" -v s="$big" \
    'BEGIN { printf "hot %d pairs: %.2f s submit to fetched, %.1f pairs/s\n", n, s, n / s }'
fi
local_queue_stop
# awk, not bc: GPU nodes often lack bc
awk -v hf="$(cat "$tmp/hot.fixed")" -v cf="$(cat "$tmp/cold.fixed")" \
  -v ht="$(cat "$tmp/hot.total")" -v ct="$(cat "$tmp/cold.total")" 'BEGIN {
    printf "fixed cost hot/cold: %.3f (goal on the CPU: at most 0.1); 16 pairs cold/hot: %.2fx\n",
      hf / cf, ct / ht }'
