#!/usr/bin/env bash
# bench/paper.sh: the SinGAN-Seg paper's findings, reproduced (or not) on
# Kvasir-SEG from ../shared/data, with segq-run alone (no broker).
#
#   (a) the small-data case: UNet++ trained on N_REAL real pairs, against the
#       same N_REAL real pairs plus PER_MODEL synthetic pairs from a SinGAN
#       trained on each of them (the paper: 5 real, 5 x 10 synthetic, about
#       +30% IoU), both tested on N_TEST held-out real pairs; and as its
#       control the N_REAL real pairs alone trained 1 + PER_MODEL times as
#       many epochs, as many pairs seen as real+synthetic: a gain that this
#       control matches came from training longer, not from the pairs;
#   (b) real against synthetic-only training on the same held-out test set
#       (the synthetic set alone is what a lab could share); with VGG19
#       weights, also the synthetic pairs in their real image's style
#       (segq-run stylize), alone and beside the real pairs. The paper's (b)
#       ran k folds over all of Kvasir-SEG, a SinGAN per image: here one
#       fixed held-out test set serves both, and bench/paper_kfold.sh runs
#       the paper's k folds over the pairs of several picks.
#
#   bench/paper.sh [CONFIG] [BUILD_DIR] [OUT_DIR]
#     CONFIG: cpu   sized for the 2-core development machine (about 7.5
#                   hours there, idle: 5 SinGANs of ~56 min, 3 UNet++
#                   seeds of ~40 and their controls of ~17);
#             quick about 1.5 hours there: small SinGANs, a short UNet++ run;
#             smoke a minute: only checks that the whole chain runs;
#             paper the published defaults (a GPU: DEVICE=cuda:0).
#     BUILD_DIR default build/release; OUT_DIR default bench-out/paper-CONFIG.
#   Environment: DEVICE (cpu), THREADS (2), SEED (0: which pairs train, and
#   every seed after), UNETS (the configuration's number of UNet++ seeds;
#   0: only the SinGANs and their pairs, as bench/paper_kfold.sh wants them),
#   DATA (../shared/data/kvasir-seg-256), FRESH (1: start
#   over instead of going on), VGG19 (ImageNet weights as safetensors,
#   deploy/convert_vgg19.py: adds the stylized sets), PYTHON (/usr/bin/python3,
#   with matplotlib for the chart).
#
# A run goes on where a stopped one left off (the cpu configuration takes
# longer than one sitting): finished steps are marked in OUT/done/, and a
# training that was cut off resumes after its last finished scale. OUT
# remembers its configuration and refuses to go on with another one.
#
# Prints the table of IoU, F1 (Dice) ... per training set (mean and spread
# over the UNet++ seeds), and each set against real test image by test image
# (bench/paper_table.py), and writes OUT/paper.md (configuration, seeds,
# commit, the tables), its chart OUT/paper.png, OUT/evaluation/seed-U/
# (segq-run evaluate's metrics.csv, per_image.csv, chart.png, examples.png)
# and the control's OUT/evaluation/longer-U/.
set -euo pipefail
shopt -s inherit_errexit

config=${1:-cpu}
build=${2:-build/release}
here=$(cd "$(dirname "$0")/.." && pwd)
out=${3:-$here/bench-out/paper-$config}
data=${DATA:-$here/../shared/data/kvasir-seg-256}
device=${DEVICE:-cpu}
threads=${THREADS:-2}
seed=${SEED:-0}
segq_run=$build/pipeline/segq-run

source "$here/bench/paper_common.sh"
paper_config "$config"

[ -x "$segq_run" ] || { echo "paper.sh: no $segq_run (build first: make build)" >&2; exit 2; }
[ -d "$data/images" ] && [ -d "$data/masks" ] ||
  { echo "paper.sh: no Kvasir-SEG pairs in $data (../shared/data missing?)" >&2; exit 2; }
vgg19=${VGG19:-}
[ -z "$vgg19" ] || [ -f "$vgg19" ] || { echo "paper.sh: VGG19=$vgg19: no such file" >&2; exit 2; }
setting="config=$config seed=$seed device=$device data=$data vgg19=${vgg19:-none}"
claim_out "$setting"
mkdir -p "$out/models" "$out/synthetic"

# The pairs: a seeded shuffle of the names; the first N_REAL train, the
# next N_TEST are the held-out test set. Links, not copies: patient data.
pick() {
  ls "$data/images" | python3 -c "
import random, sys
names = sorted(line.strip() for line in sys.stdin)
random.Random($seed).shuffle(names)
print('\n'.join(names[:$n_real + $n_test]))"
}
mapfile -t names < <(pick)
link_pairs "$out/real" "${names[@]:0:n_real}"
link_pairs "$out/test" "${names[@]:n_real:n_test}"

train() { # K
  local k=$1 name=${names[$1]} resume=()
  # a checkpoint without a mark: cut off, go on after its last scale
  if [ -f "$out/models/$k/model.safetensors" ]; then
    resume=(--resume)
    echo "paper.sh: going on from the last finished scale" | tee -a "$out/train-$k.log"
  fi
  "$segq_run" train --image "$data/images/$name" --mask "$data/masks/$name" \
    --out "$out/models/$k" --max-size "$max_size" --niter "$niter" --previews 0 \
    --seed $((seed + k)) "${resume[@]}" "${common[@]}" >>"$out/train-$k.log" 2>&1
}
generate() { # K
  rm -rf "$out/synthetic/$1"
  "$segq_run" generate --model "$out/models/$1/model.safetensors" --count "$per_model" \
    --out "$out/synthetic/$1" --seed $((seed + 100 + $1)) "${common[@]}" >"$out/generate-$1.log" 2>&1
}
stylize() { # K: the synthetic pairs in the style of the image they came from
  rm -rf "$out/stylized/$1"
  mkdir -p "$out/stylized"
  "$segq_run" stylize --content "$out/synthetic/$1" --style "$data/images/${names[$1]}" \
    --vgg19 "$vgg19" --out "$out/stylized/$1" --steps "$style_steps" \
    "${common[@]}" >"$out/stylize-$1.log" 2>&1
}
echo "paper.sh $config: $n_real real pairs, a SinGAN each (max size $max_size, $niter iterations a scale), $per_model synthetic pairs each, $n_test test pairs, $device, $threads threads"
common=(--device "$device" --threads "$threads")
for k in $(seq 0 $((n_real - 1))); do
  step "train-$k" train "$k"
  step "generate-$k" generate "$k"
  [ -z "$vgg19" ] || step "stylize-$k" stylize "$k"
  echo "  SinGAN $((k + 1))/$n_real (${names[$k]}): trained in $(cat "$out/done/train-$k") s," \
    "sampled in $(cat "$out/done/generate-$k") s${vgg19:+, stylized in $(cat "$out/done/stylize-$k") s}"
done
if [ "$unets" = 0 ]; then
  echo "paper.sh: UNETS=0: the SinGANs and their pairs only, in $out"
  exit 0
fi
unetpps --test "$out/test"

table=$("${PYTHON:-/usr/bin/python3}" "$here/bench/paper_table.py" "$out"/evaluation/seed-*/metrics.csv \
  "${controls[@]}" --chart "$out/paper.png")
{
  echo "# SinGAN-Seg's findings, $config configuration"
  echo
  echo "$(date -u +%Y-%m-%d), commit $(paste -sd, "$out/commits"), $(nproc) CPUs, device $device, $threads threads," \
    "$(cat "$out"/done/* | awk '{ s += $1 } END { print s }') s of steps in all" \
    "($(cat "$out"/train-*.log | grep -c '^paper.sh: going on' || true) training(s) resumed)."
  echo "Data: $(basename "$data"), seed $seed: $n_real training pairs (${names[*]:0:n_real}), $n_test held-out test pairs."
  echo "SinGAN: --max-size $max_size --niter $niter, $per_model pairs each; UNet++: --epochs $epochs --size $side --batch $batch, seeds $seed..$((seed + unets - 1));" \
    "the control: real alone, --epochs $((epochs * longer))."
  [ -z "$vgg19" ] || echo "Stylized: segq-run stylize --steps $style_steps, each pair in its real image's style, VGG19 $(basename "$vgg19")."
  echo
  echo "$table"
} >"$out/paper.md"
echo
cat "$out/paper.md"
