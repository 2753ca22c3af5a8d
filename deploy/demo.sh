#!/usr/bin/env bash
# deploy/demo.sh: the SinGAN-Seg pipeline through the queue, on a sample the
# project draws itself (no patient data). Starts a broker (segqd) and a
# worker in a temporary directory on a free loopback port, then:
#   1. draws an endoscopy-like image with a polyp and its mask (segq-run sample)
#   2. train: a small SinGAN on that pair
#   3. generate: synthetic image/mask pairs from the trained model
# Each step is a job submitted with `segq`; the later ones wait for the
# earlier ones through their inputs. Fetches every result into the results
# folder, prints where they are, and stops the services (also on Ctrl-C).
# `make demo` builds and runs it. Small settings: a few minutes on 2 cores.
#
#   deploy/demo.sh [BUILD_DIR]      (default build/release)
#   SEGQ_DEMO_OUT=DIR  results folder (default demo-out/RUN-TIME)
#   SEGQ_DEMO_NITER=N  training iterations per scale (default 150)
set -euo pipefail
shopt -s inherit_errexit

build=${1:-build/release}
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/deploy/local_queue.sh"
segq=$build/client/segq
segq_run=$build/pipeline/segq-run
niter=${SEGQ_DEMO_NITER:-150}
out=${SEGQ_DEMO_OUT:-demo-out/$(date +%Y%m%d-%H%M%S)}
threads=2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/segq-demo-XXXXXX")
on_exit() {
  local rc=$?
  local_queue_stop --now
  if [ "$rc" -ne 0 ] && [ -d "$tmp" ]; then
    echo "demo failed (exit $rc); the services' logs:" >&2
    tail -n 20 "$tmp"/segqd.log "$tmp"/segq-worker.log >&2 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap on_exit EXIT
trap 'echo; echo "interrupted: stopping the worker and the broker"; exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; }
seconds() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}'; }
t_start=$(date +%s.%N)

step "starting segqd and one worker ($threads CPU slots) in $tmp"
local_queue_start "$build" "$tmp" "$threads"
echo "broker on $SEGQ_BROKER (SEGQ_BROKER tells the CLI where it is)"
show segq workers
"$segq" workers

step "1. a procedural sample: an endoscopy-like image with a polyp, and its mask"
mkdir -p "$out"
out=$(cd "$out" && pwd)
show segq-run sample --out "$out/sample" --seed 1
"$segq_run" sample --out "$out/sample" --seed 1

step "2. train a small SinGAN on it ($niter iterations per scale, images up to 64 px)"
show "segq submit train --input image=sample/image.png --input mask=sample/mask.png" \
  "--param max_size=64 --param niter=$niter --param previews=0 --cpu $threads"
train=$("$segq" submit train --input "image=$out/sample/image.png" \
  --input "mask=$out/sample/mask.png" --param max_size=64 --param "niter=$niter" \
  --param previews=0 --cpu $threads)
echo "$train"

step "3. generate 20 synthetic pairs from that model (queued now, runs after the training)"
show segq submit generate --input model="$train" --param count=20 --cpu $threads
generate=$("$segq" submit generate --input "model=$train" --param count=20 --cpu $threads)
echo "$generate"

step "waiting (segq wait shows each job's progress)"
t_jobs=$(date +%s.%N)
show segq wait "$train" "$generate"
"$segq" wait "$train" "$generate"
echo "jobs done in $(seconds "$t_jobs") s"
show segq status
"$segq" status

step "fetching the results into $out"
show segq fetch "$train" -o model
"$segq" fetch "$train" -o "$out/model" >/dev/null
show segq fetch "$generate" -o generated
"$segq" fetch "$generate" -o "$out/generated" >/dev/null

step "stopping the worker (drain) and the broker"
local_queue_stop

n_pairs=$(find "$out/generated/images" -name '*.png' | wc -l)
cat <<EOF

done in $(seconds "$t_start") s. Results in $out:
  sample/image.png, sample/mask.png   the drawn training pair
  model/model.safetensors             the trained SinGAN (segq-run generate --model ... makes more)
  generated/images/, generated/masks/ $n_pairs synthetic image/mask pairs, manifest.csv names their source
EOF
