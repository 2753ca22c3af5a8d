#!/usr/bin/env bash
# bench/paper_kfold.sh: SinGAN-Seg's finding (b) as the paper tested it, by
# k-fold cross-validation over real pairs that each have their own SinGAN:
# every real pair is a test pair once, for UNet++ models trained on the other
# folds' real pairs (real), on the synthetic pairs of those pairs' SinGANs
# alone (singan: what a lab could share), and on both (real+singan); with
# VGG19 weights also on the stylized pairs. segq-run evaluate deals the
# folds and never trains a synthetic pair whose source is a test pair. As
# paper.sh's control, the real pairs alone also train 1 + PER_MODEL times
# the epochs, on the same folds: the synthetic sets are that many times
# larger, so at equal epochs they also train that much longer.
#
#   bench/paper_kfold.sh [CONFIG] [BUILD_DIR] [OUT_DIR]
#     CONFIG: smoke, quick, cpu or paper, as bench/paper.sh (SinGAN and
#             UNet++ sizes, synthetic pairs per SinGAN, UNet++ seeds).
#     BUILD_DIR default build/release; OUT_DIR default
#     bench-out/paper-kfold-CONFIG.
#   Environment: PICKS (3) and SEED (0): the real pairs are the training
#   pairs of bench/paper.sh's picks of data seeds SEED .. SEED+PICKS-1 (5
#   each), whose SinGANs and synthetic pairs paper.sh makes in OUT/pick-S
#   (UNETS=0: nothing else; a fresh run keeps them); an earlier paper.sh
#   run of the same configuration and seed serves as it is: link its
#   output folder there before the first start. FOLDS (3): k. UNETS,
#   DEVICE, THREADS, DATA, VGG19, PYTHON, FRESH: as paper.sh.
#
# Goes on where a stopped run left off, as paper.sh does. Prints and writes
# OUT/paper.md (configuration, the pairs, commits, the tables of
# bench/paper_table.py), OUT/paper.png and OUT/evaluation/seed-U/.
set -euo pipefail
shopt -s inherit_errexit

config=${1:-quick}
build=${2:-build/release}
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${3:-$here/bench-out/paper-kfold-$config}") # links into it are absolute
data=${DATA:-$here/../shared/data/kvasir-seg-256}
device=${DEVICE:-cpu}
threads=${THREADS:-2}
seed=${SEED:-0}
picks=${PICKS:-3}
folds=${FOLDS:-3}
vgg19=${VGG19:-}
segq_run=$build/pipeline/segq-run

source "$here/bench/paper_common.sh"
paper_config "$config"
[[ $picks =~ ^[1-9][0-9]*$ ]] || { echo "paper_kfold.sh: PICKS=$picks: a number of picks, 1 or more" >&2; exit 2; }
[[ $folds =~ ^[0-9]+$ ]] && [ "$folds" -ge 2 ] && [ "$folds" -le $((n_real * picks)) ] ||
  { echo "paper_kfold.sh: FOLDS=$folds: 2 to $((n_real * picks)) folds for the $((n_real * picks)) pairs of $picks picks" >&2; exit 2; }
setting="config=$config seed=$seed picks=$picks folds=$folds device=$device data=$data vgg19=${vgg19:-none}"
# a fresh run keeps the picks' SinGANs (pick-S/): they are paper.sh's
if [ "${FRESH:-0}" = 1 ] && [ -d "$out" ]; then
  find "$out" -mindepth 1 -maxdepth 1 ! -name 'pick-*' -exec rm -rf {} +
fi
FRESH=0 claim_out "$setting"

# The SinGANs: paper.sh makes (or finds) each pick's
for s in $(seq "$seed" $((seed + picks - 1))); do
  SEED=$s UNETS=0 FRESH=0 bash "$here/bench/paper.sh" "$config" "$build" "$out/pick-$s"
done

# source_of DIR: the real image a generate output's pairs came from
source_of() {
  python3 -c 'import csv, sys; print(next(csv.DictReader(open(sys.argv[1])))["source_image"])' \
    "$1/manifest.csv"
}
# The pairs of all picks, each pair once: a pair two picks drew keeps the
# first pick's SinGAN (two SinGANs would give it twice the synthetic pairs)
gather() {
  local s k name kind sets=(synthetic)
  [ -z "$vgg19" ] || sets+=(stylized)
  rm -rf "$out/real" "$out/synthetic" "$out/stylized"
  mkdir -p "$out/synthetic" ${vgg19:+"$out/stylized"}
  for s in $(seq "$seed" $((seed + picks - 1))); do
    for k in $(seq 0 $((n_real - 1))); do
      name=$(source_of "$out/pick-$s/synthetic/$k")
      if [ -e "$out/real/images/$name" ]; then
        echo "paper_kfold.sh: pick $s drew $name again: its SinGAN is the earlier pick's"
        continue
      fi
      link_pairs "$out/real" "$name"
      for kind in "${sets[@]}"; do
        ln -sfn "$out/pick-$s/$kind/$k" "$out/$kind/$s-$k"
      done
    done
  done
}
gather
n=$(ls "$out/real/images" | wc -l)
[ "$folds" -le "$n" ] || { echo "paper_kfold.sh: FOLDS=$folds: more folds than the $n pairs" >&2; exit 2; }

echo "paper_kfold.sh $config: $n real pairs of $picks picks, $folds folds, $unets UNet++ seeds, $device, $threads threads"
unetpps --folds "$folds"
[ "$unets" -gt 0 ] || exit 0

table=$("${PYTHON:-/usr/bin/python3}" "$here/bench/paper_table.py" "$out"/evaluation/seed-*/metrics.csv \
  "${controls[@]}" --chart "$out/paper.png")
{
  echo "# SinGAN-Seg's finding (b) on $folds folds, $config configuration"
  echo
  echo "$(date -u +%Y-%m-%d), commit $(paste -sd, "$out/commits"), $(nproc) CPUs, device $device, $threads threads," \
    "$(cat "$out"/done/* | awk '{ s += $1 } END { print s }') s of UNet++ in all."
  echo "Data: $(basename "$data"), the training pairs of data seeds $seed..$((seed + picks - 1)) ($n pairs:" \
    "$(ls "$out/real/images" | paste -sd ' ')), dealt into $folds folds by each UNet++ seed."
  echo "SinGAN: --max-size $max_size --niter $niter, $per_model pairs each, trained by paper.sh at" \
    "$(for s in $(seq "$seed" $((seed + picks - 1))); do echo "$(paste -sd, "$out/pick-$s/commits") (pick $s)"; done |
      paste -sd ';' | sed 's/;/; /g'); UNet++: --epochs $epochs" \
    "--size $side --batch $batch, seeds $seed..$((seed + unets - 1)); every pair a test pair once per seed;" \
    "the control: real alone, --epochs $((epochs * longer)), the same folds."
  [ -z "$vgg19" ] || echo "Stylized: segq-run stylize --steps $style_steps, VGG19 $(basename "$vgg19")."
  echo
  echo "$table"
} >"$out/paper.md"
echo
cat "$out/paper.md"
