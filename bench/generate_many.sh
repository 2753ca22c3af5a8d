#!/usr/bin/env bash
# bench/generate_many.sh: a large generation through the queue, where the
# files, not the pairs, cost the time. A tiny model (24 px, 8 filters) is
# trained through segqd + one segq-worker; then, after one request that
# starts the worker's generation server and loads the model, ROUNDS times
# a generate of 1 pair (the fixed cost: dispatch, the server's turn, the
# small files, the wait) and one of COUNT pairs (2 x COUNT + 2 files), each timed from
# submit to its end, and the COUNT pairs' `segq fetch`. The time the files
# took on the way to the broker is the big job's time less its pairs'
# compute (the "generated N pairs ... in X s" of its log) less the fixed
# cost; per file, it is what one upload costs (docs/performance.md).
#
#   bench/generate_many.sh [BUILD_DIR] [COUNT] [ROUNDS]
#     defaults: build/release, 3000 pairs, 3 rounds
set -euo pipefail
shopt -s inherit_errexit

build=${1:-build/release}
count=${2:-3000}
rounds=${3:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/deploy/local_queue.sh"

segq=$build/client/segq
tmp=$(mktemp -d "${TMPDIR:-/tmp}/segq-bench-many-XXXXXX")
on_exit() {
  local_queue_stop --now
  [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

local_queue_start "$build" "$tmp/queue" 2
"$build/pipeline/segq-run" sample --out "$tmp/sample" --seed 1 --size 40x48 >/dev/null
train=$("$segq" submit train --image "$tmp/sample/image.png" --mask "$tmp/sample/mask.png" \
  --max-size 24 --min-size 12 --niter 5 --previews 0 --nfc 8 --nfc-max 8 --cpu 2 2>/dev/null)
"$segq" wait "$train" >/dev/null

now() { date +%s.%N; }
# A generate of $1 pairs: prints "SECONDS COMPUTE_SECONDS FETCH_SECONDS".
request() {
  local pairs=$1 t0 t1 t2 job compute
  t0=$(now)
  job=$("$segq" submit generate --model "$train" --count "$pairs" --cpu 2 2>/dev/null)
  "$segq" wait --interval 50 "$job" >/dev/null
  t1=$(now)
  "$segq" fetch "$job" -o "$tmp/out-$job" >/dev/null
  t2=$(now)
  compute=$("$segq" logs "$job" | sed -n 's/^generated .* in \([0-9.]*\) s .*/\1/p' | tail -n 1)
  rm -rf "$tmp/out-$job"
  awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v c="${compute:-0}" \
    'BEGIN { print t1 - t0, c, t2 - t1 }'
}

files=$((2 * count + 2))
echo "generate of $count pairs ($files files) through segqd + one segq-worker, $build"
request 1 >/dev/null # the worker's generation server started, the model loaded: both hot
for r in $(seq 1 "$rounds"); do
  read -r fixed fixed_compute _ < <(request 1)
  read -r total compute fetch < <(request "$count")
  awk -v r="$r" -v f="$fixed" -v fc="$fixed_compute" -v t="$total" -v c="$compute" \
    -v g="$fetch" -v n="$files" 'BEGIN {
      up = t - c - (f - fc)
      printf "round %d: %.2f s submit to end, pairs %.2f s, fixed %.2f s: files %.2f s ", r, t, c, f, up
      printf "(%.2f ms a file); fetch %.2f s (%.2f ms a file)\n", 1e3 * up / n, g, 1e3 * g / n
    }'
done
