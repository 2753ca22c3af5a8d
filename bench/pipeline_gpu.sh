#!/usr/bin/env bash
# bench/pipeline_gpu.sh: SinGAN-Seg on a GPU, side by side with the authors'
# code in the same run: steady seconds per iteration at each scale (default
# parameters; plain steps, CUDA graphs in fp32 and bf16), how busy the GPU is
# during one training, trainings per GPU-hour with 4 and 8 at once, and
# generate pairs/s at full size (PNGs and manifest written). segq-run must be
# built against a CUDA libtorch (`make build TORCH_DIR=...` on a node with
# the -dev packages, or tests/gpu/device_check.sh on one without).
#
#   bench/pipeline_gpu.sh SEGQ_RUN IMAGE MASK [OUTDIR]
#
# Env: SEGQ_GPU_NITER iterations per scale (default 30; the first of each
# scale is reported apart), SEGQ_GPU_CONCURRENT_NITER for the concurrent
# runs (default 30), SEGQ_GPU_MPS=1 to add 8 at once under CUDA's MPS,
# SEGQ_GPU_SEEDS=S to compare plain and graph losses over S seeds,
# SEGQ_AUTHORS_TIME (path of authors_time.py) and SEGQ_AUTHORS_DIR (a writable copy of the authors' singan-seg/) to time
# their code beside ours: ../shared/reference/README.md says how.
# A full default training is 2000 iterations per scale: its time here is
# extrapolated from the steady s/iter, and said so.
set -uo pipefail
usage="usage: bench/pipeline_gpu.sh SEGQ_RUN IMAGE MASK [OUTDIR]"
run=${1:?$usage}
image=${2:?$usage}
mask=${3:?$usage}
out=${4:-/tmp/segq-gpu}
niter=${SEGQ_GPU_NITER:-30}
cniter=${SEGQ_GPU_CONCURRENT_NITER:-30}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

# [seed=S] train NAME FLAGS...: one training (seed 1 unless said), its log
# in OUTDIR/NAME.log; a run before's folder goes first (segq-run refuses to
# train over a model)
train() {
  local name=$1
  shift
  rm -rf "${out:?}/$name"
  "$run" train --image "$image" --mask "$mask" --out "$out/$name" --niter "$niter" \
    --device cuda:0 --seed "${seed:-1}" --previews 0 "$@" >"$out/$name.log" 2>&1
}
# steady s/iter per scale of a segq log, one per line
steady() { sed -n 's/.* s\/iter, \([0-9.]*\) s\/iter after the first.*/\1/p' "$1"; }

echo "== segq train, default parameters, $niter iterations per scale"
train eager-fp32 --cuda-graph off || echo "FAIL eager fp32: $(tail -n 3 "$out/eager-fp32.log")"
# the GPU's load, sampled each second, during one training with graphs
nvidia-smi dmon -s u -d 1 >"$out/dmon.log" 2>&1 &
dmon=$!
train graph-fp32 --cuda-graph on || echo "FAIL graph fp32: $(tail -n 3 "$out/graph-fp32.log")"
kill "$dmon" 2>/dev/null
wait "$dmon" 2>/dev/null
train graph-bf16 --cuda-graph on --precision bf16 ||
  echo "FAIL graph bf16: $(tail -n 3 "$out/graph-bf16.log")"
grep -h 'capture failed' "$out"/*.log

if [ -n "${SEGQ_AUTHORS_TIME:-}" ]; then
  echo "== the authors' code, $niter iterations per scale, 100 samples generated"
  SINGAN_SEG_DIR=$SEGQ_AUTHORS_DIR timeout 300 python3 "$SEGQ_AUTHORS_TIME" \
    --input_name polyp_with_4_channels.png --nc_z 4 --nc_im 4 --niter "$niter" --gen 100 \
    >"$out/authors.log" 2>&1 || echo "FAIL authors: $(tail -n 3 "$out/authors.log")"
  sed -n 's/.*s\/iter mean, \([0-9.]*\) s\/iter steady median/\1/p' "$out/authors.log" \
    >"$out/authors.steady"
fi

echo
echo "steady s/iter per scale (the first iteration of each scale left out):"
printf '| scale | authors | segq plain fp32 | segq graph fp32 | segq graph bf16 |\n'
printf '| --- | --- | --- | --- | --- |\n'
sizes() { sed -n 's/^scale [0-9]*\/[0-9]* (\([0-9x]*\),.*/\1/p' "$out/graph-fp32.log"; }
[ -s "$out/authors.steady" ] || sizes | sed 's/.*/-/' >"$out/authors.steady"
paste -d' ' <(sizes) "$out/authors.steady" <(steady "$out/eager-fp32.log") \
  <(steady "$out/graph-fp32.log") <(steady "$out/graph-bf16.log") |
  awk 'NF { printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }'
for name in eager-fp32 graph-fp32 graph-bf16; do
  steady "$out/$name.log" | awk -v n="$name" '{ s += $1; if ($1 > m) m = $1 }
    END { printf "%s: all scales %.4f s/iter, slowest scale %.4f; a default training (2000 iterations a scale) about %.0f s\n", n, s, m, s * 2000 }'
done
grep -q '^[0-9]' "$out/authors.steady" && awk '{ s += $1 } END { printf "authors: all scales %.4f s/iter; a default training about %.0f s\n", s, s * 2000 }' "$out/authors.steady"
awk '$1 ~ /^[0-9]+$/ { n++; sm += $2 } END { if (n) printf "GPU busy during the graph fp32 training: %.0f%% SM on average over %d samples of 1 s (nvidia-smi dmon)\n", sm / n, n }' "$out/dmon.log"

# Same seed, plain steps against graphs: the graph's first iteration is the
# same eager code and its replays draw the same random numbers, so the runs
# start equal and part only by rounding (the device-step Adam's order of
# operations, cuDNN's atomics) that the GAN then amplifies: so the figure
# compared is each scale's mean over its last ten iterations, which should
# agree within the run-to-run spread of the plain path itself.
echo "losses, plain fp32 against graph fp32 (same seed), mean of each scale's last 10 iterations:"
for name in eager-fp32 graph-fp32; do
  awk -F, -v n="$niter" 'NR > 1 && $2 >= n - 10 { d[$1] += $3; g[$1] += $7; r[$1] += $8; c[$1]++ }
    END { for (s in c) printf "%s %.5f %.5f %.5f\n", s, d[s] / c[s], g[s] / c[s], r[s] / c[s] }' \
    "$out/$name/losses.csv" | sort -n >"$out/$name.tail"
done
printf '| scale | loss_d plain | loss_d graph | loss_g plain | loss_g graph | rec plain | rec graph |\n'
join "$out/eager-fp32.tail" "$out/graph-fp32.tail" |
  awk '{ printf "| %d | %s | %s | %s | %s | %s | %s |\n", $1 + 1, $2, $5, $3, $6, $4, $7 }'
awk -F, 'NR > 1 && $2 == 0 { print $1, $3, $8 }' "$out/eager-fp32/losses.csv" >"$out/first.plain"
awk -F, 'NR > 1 && $2 == 0 { print $1, $3, $8 }' "$out/graph-fp32/losses.csv" >"$out/first.graph"
join "$out/first.plain" "$out/first.graph" | awk '{ d = $2 - $4; if (d < 0) d = -d; r = $3 - $5;
  if (r < 0) r = -r; if (d > md) md = d; if (r > mr) mr = r }
  END { printf "first iteration of each scale (eager in both): largest |loss_d| difference %.3g, |rec| %.3g\n", md, mr }'

# The same in law: SEGQ_GPU_SEEDS=S (1, the default: not run) trains both
# ways with seeds 2..S too and compares each scale's closing losses over
# the seeds (bench/losses_compare.py): the graph path should differ from
# the plain one no more than seeds differ among themselves.
if [ "${SEGQ_GPU_SEEDS:-1}" -gt 1 ]; then
  echo "== plain against graph fp32 over $SEGQ_GPU_SEEDS seeds, $niter iterations per scale"
  plain=$out/eager-fp32 graph=$out/graph-fp32
  for s in $(seq 2 "$SEGQ_GPU_SEEDS"); do
    seed=$s train "eager-fp32-seed$s" --cuda-graph off || echo "FAIL eager fp32 seed $s"
    seed=$s train "graph-fp32-seed$s" --cuda-graph on || echo "FAIL graph fp32 seed $s"
    plain=$plain,$out/eager-fp32-seed$s graph=$graph,$out/graph-fp32-seed$s
  done
  python3 "$(dirname "$0")/losses_compare.py" "$plain" "$graph" --names plain graph
fi

# concurrent K LABEL: K trainings at once on the one GPU, graphs on, fp32
concurrent() {
  local k=$1 label=$2 t0 t1
  echo "== $k trainings at once$label, $cniter iterations per scale, graphs, fp32"
  t0=$(date +%s.%N)
  rm -rf "$out/conc$k-"*
  for j in $(seq 1 "$k"); do
    "$run" train --image "$image" --mask "$mask" --out "$out/conc$k-$j" --niter "$cniter" \
      --device cuda:0 --seed "$j" --previews 0 --cuda-graph on >"$out/conc$k-$j.log" 2>&1 &
  done
  wait
  t1=$(date +%s.%N)
  for j in $(seq 1 "$k"); do steady "$out/conc$k-$j.log" | awk '{ s += $1 } END { print s }'; done |
    awk -v k="$k" -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v n="$cniter" '{ sum += $1; c++ }
      END { per = sum / c * 2000; printf "%d at once: %.1f s wall for %d iterations a scale; steady %.4f s/iter over all scales each, so a default training takes about %.0f s and the GPU does about %.0f default trainings an hour\n", k, wall, n, sum / c, per, k * 3600 / per }'
}
concurrent 4 ""
concurrent 8 ""
# With CUDA's multi-process service the processes' kernels run side by
# side instead of taking turns (SEGQ_GPU_MPS=1; a daemon of this run only).
if [ "${SEGQ_GPU_MPS:-0}" = 1 ] && command -v nvidia-cuda-mps-control >/dev/null; then
  export CUDA_MPS_PIPE_DIRECTORY=$out/mps-pipe CUDA_MPS_LOG_DIRECTORY=$out/mps-log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  if nvidia-cuda-mps-control -d; then
    concurrent 8 " under MPS"
    echo quit | nvidia-cuda-mps-control
  fi
  unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
fi

for precision in fp32 bf16; do
  echo "== generate 500 at full size, batch 200, $precision (fp32 checkpoint)"
  rm -rf "${out:?}/gen-$precision"
  "$run" generate --model "$out/graph-fp32/model.safetensors" --count 500 --batch 200 \
    --out "$out/gen-$precision" --device cuda:0 --precision "$precision" --seed 1 | tail -n 1
done
grep -h '^authors generate' "$out/authors.log" 2>/dev/null
exit 0
