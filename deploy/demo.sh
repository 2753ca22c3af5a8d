#!/usr/bin/env bash
# deploy/demo.sh: the SinGAN-Seg pipeline through the queue, on samples the
# project draws itself (no patient data). Starts a broker (segqd) and a
# worker in a temporary directory on a free loopback port, then:
#   1. draws an endoscopy-like image with a polyp and its mask (segq-run
#      sample), plus a few more as the real training and test sets
#   2. train: a small SinGAN on that pair
#   3. generate: synthetic image/mask pairs from the trained model
#   4. stylize: the real image's style onto them, when VGG19 weights are
#      configured (SEGQ_VGG19=FILE); otherwise says how to get them
#   5. evaluate: UNet++ trained on real, synthetic and both, measured on
#      the real test samples
# Each step is a job submitted with `segq`; later ones wait for earlier ones
# through their inputs. Fetches every result into the results folder,
# prints where they are, and stops the services (also on Ctrl-C). `make
# demo` builds and runs it. Small settings: a few minutes on 2 cores.
#
#   deploy/demo.sh [BUILD_DIR]      (default build/release)
#   SEGQ_DEMO_OUT=DIR  results folder (default demo-out/RUN-TIME)
#   SEGQ_DEMO_NITER=N  training iterations per scale (default 150)
#   SEGQ_VGG19=FILE    VGG19 weights as safetensors (deploy/convert_vgg19.py): adds stylize
#   SEGQ_DEMO_GPU=SIZE run every job on the machine's GPUs (found by the worker),
#                      each declaring SIZE of GPU memory (e.g. 4G); default: CPU
set -euo pipefail
shopt -s inherit_errexit

build=${1:-build/release}
if [ ! -d "$build" ]; then
  echo "demo: no build directory $build: run \`make demo\` (or pass the build directory)" >&2
  exit 1
fi
build=$(cd "$build" && pwd) # the demo runs in its results folder
if [ -n "${SEGQ_VGG19:-}" ]; then
  if [ ! -r "$SEGQ_VGG19" ]; then
    echo "demo: SEGQ_VGG19=$SEGQ_VGG19: cannot read that file" >&2
    exit 1
  fi
  SEGQ_VGG19=$(cd "$(dirname "$SEGQ_VGG19")" && pwd)/$(basename "$SEGQ_VGG19")
fi
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/deploy/local_queue.sh"
segq=$build/client/segq
segq_run=$build/pipeline/segq-run
niter=${SEGQ_DEMO_NITER:-150}
out=${SEGQ_DEMO_OUT:-demo-out/$(date +%Y%m%d-%H%M%S)}
threads=2
# Where the jobs run: CPU slots, or GPU memory on the GPUs the worker finds.
resources=(--cpu $threads)
gpus=
if [ -n "${SEGQ_DEMO_GPU:-}" ]; then
  resources=(--gpu-mem "$SEGQ_DEMO_GPU")
  gpus=auto
fi

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

step "starting segqd and one worker ($threads CPU slots${gpus:+ and its GPUs}) in $tmp"
local_queue_start "$build" "$tmp" "$threads" "$gpus"
echo "broker on $SEGQ_BROKER (SEGQ_BROKER tells the CLI where it is)"
show segq workers
"$segq" workers

step "1. procedural samples: an endoscopy-like image with a polyp, and its mask"
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$out" # the commands below read as a user would type them
show segq-run sample --out sample --seed 1
"$segq_run" sample --out sample --seed 1
# real/images/sample-000.png is sample/image.png byte for byte (same seed):
# evaluate lets synthetic pairs train only where their source (named by
# hash in their manifest) is one of the real training pairs.
show "segq-run sample --out real --seed 1 --count 4     # the real training set: that one and 3 more"
"$segq_run" sample --out real --seed 1 --count 4
show "segq-run sample --out test --seed 100 --count 6   # the real test set: 6 others"
"$segq_run" sample --out test --seed 100 --count 6

step "2. train a small SinGAN on sample/ ($niter iterations per scale, images up to 64 px)"
train_args=(train --image sample/image.png --mask sample/mask.png --max-size 64 --niter "$niter"
  --previews 0 "${resources[@]}")
show segq submit "${train_args[@]}"
train=$("$segq" submit "${train_args[@]}")
echo "$train"

step "3. generate 20 synthetic pairs from its model (queued now, runs after the training)"
gen_args=(generate --model "$train" --count 20 "${resources[@]}")
show segq submit "${gen_args[@]}"
generate=$("$segq" submit "${gen_args[@]}")
echo "$generate"
jobs=("$train" "$generate")
synthetic=(--synthetic "generated=$generate")

step "4. stylize: the training image's style onto the generated images"
stylize=
if [ -n "${SEGQ_VGG19:-}" ]; then
  # no --style: the broker takes the training image of the model behind $generate
  sty_args=(stylize --content "$generate" --vgg19 "$SEGQ_VGG19" --steps 100 --batch 20
    "${resources[@]}")
  show segq submit "${sty_args[@]}"
  stylize=$("$segq" submit "${sty_args[@]}")
  echo "$stylize"
  jobs+=("$stylize")
  synthetic+=(--synthetic "stylized=$stylize")
else
  cat <<'EOF'
skipped: stylize needs VGG19's ImageNet weights, which this repository does not ship.
To enable it, on a machine with internet access and torchvision:
    python3 -c 'import torchvision; torchvision.models.vgg19(weights="IMAGENET1K_V1")'
    python3 deploy/convert_vgg19.py ~/.cache/torch/hub/checkpoints/vgg19-dcbb9e9d.pth vgg19.safetensors
then: SEGQ_VGG19=$PWD/vgg19.safetensors make demo
EOF
fi

step "5. evaluate: UNet++ trained on real, synthetic and both, measured on the real test set"
eval_args=(evaluate --real real --test test "${synthetic[@]}" --epochs 30 --size 64 --depth 3
  --width 8 --batch 4 --lr 0.001 "${resources[@]}")
show segq submit "${eval_args[@]}"
evaluate=$("$segq" submit "${eval_args[@]}")
echo "$evaluate"
jobs+=("$evaluate")

step "waiting (segq wait shows each job's progress)"
t_jobs=$(date +%s.%N)
show segq wait "${jobs[@]}"
"$segq" wait "${jobs[@]}"
echo "jobs done in $(seconds "$t_jobs") s"
show segq status
"$segq" status

step "fetching the results into $out"
fetch() {
  show segq fetch "$1" -o "$2"
  "$segq" fetch "$1" -o "$2" >/dev/null
}
fetch "$train" model
fetch "$generate" generated
if [ -n "$stylize" ]; then fetch "$stylize" stylized; fi
fetch "$evaluate" evaluation

step "stopping the worker (drain) and the broker"
local_queue_stop

# Mean IoU and F1 per training set, from metrics.csv (rows SET,mean,...).
summary=$(awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) col[$i] = i; next}
  $2 == "mean" {printf "    %-24s IoU %.3f  F1 %.3f\n", $1, $col["iou"], $col["f1"]}' \
  evaluation/metrics.csv)
n_pairs=$(find generated/images -name '*.png' | wc -l)
cat <<EOF

done in $(seconds "$t_start") s. Results in $out:
  sample/image.png, sample/mask.png      the drawn training pair (real/, test/: the other samples)
  model/model.safetensors                the trained SinGAN (segq-run generate --model ... makes more)
  generated/images/, generated/masks/    $n_pairs synthetic pairs; manifest.csv names their source
  generated/contact_sheet.png            the first 16 of them, each mask outlined on its image
EOF
if [ -n "$stylize" ]; then
  echo "  stylized/images/, stylized/masks/      the same pairs in the real image's style"
  echo "  stylized/contact_sheet.png             their contact sheet"
fi
cat <<EOF
  evaluation/chart.png                   metrics per training set (bars)
  evaluation/examples.png                test image | truth | prediction per set
  evaluation/metrics.csv, metrics.json   every fold and metric
  evaluation/per_image.csv               every test image's metrics
UNet++ on the 6 test samples (tiny settings: a smoke test, not a result):
$summary
EOF
