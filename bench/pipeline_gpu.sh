#!/usr/bin/env bash
# bench/pipeline_gpu.sh: SinGAN-Seg on a GPU: seconds per iteration at each
# scale (default parameters; fp32 and bf16) and generate samples/s at full
# size, from a segq-run built against a CUDA libtorch (`make build
# TORCH_DIR=...` on a node with the -dev packages, or tests/gpu/device_check.sh
# on one without).
#
#   bench/pipeline_gpu.sh SEGQ_RUN IMAGE MASK [OUTDIR]
#
# SEGQ_GPU_NITER (default 20) iterations per scale; the first iteration of a
# scale is reported apart (steady s/iter in the train log).
set -euo pipefail
usage="usage: bench/pipeline_gpu.sh SEGQ_RUN IMAGE MASK [OUTDIR]"
run=${1:?$usage}
image=${2:?$usage}
mask=${3:?$usage}
out=${4:-/tmp/segq-gpu}
niter=${SEGQ_GPU_NITER:-20}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

for precision in fp32 bf16; do
  echo "== train, default parameters, $niter iterations per scale, $precision on cuda:0"
  "$run" train --image "$image" --mask "$mask" --out "$out/train-$precision" --niter "$niter" \
    --device cuda:0 --precision "$precision" --seed 1 --previews 2 2>&1 \
    | tee "$out/train-$precision.log" | grep -E '^(training|scale)'
done
for precision in fp32 bf16; do
  echo "== generate 500 at full size, batch 200, $precision (fp32 checkpoint)"
  "$run" generate --model "$out/train-fp32/model.safetensors" --count 500 --batch 200 \
    --out "$out/gen-$precision" --device cuda:0 --precision "$precision" --seed 1 | tail -n 1
done
