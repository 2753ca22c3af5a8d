#!/usr/bin/env bash
# bench/pipeline_gpu.sh: build segq-run against a GPU node's pip (CUDA)
# torch without CMake or pkg-config, and time training and generation.
#
#   DEPS=DIR bench/pipeline_gpu.sh IMAGE MASK [OUTDIR]
#
# DEPS holds include/ and lib/ with the headers and static libraries of
# libpng, libjpeg-turbo, jansson and zlib (copied from a Debian machine:
# /usr/include and /usr/lib/x86_64-linux-gnu/lib{png16,jpeg,jansson,z}.a),
# for nodes that have a compiler, CUDA and torch but no -dev packages.
# Prints seconds per iteration per scale (fp32, bf16; the first iteration
# of a scale is reported apart) and generate samples/s at full size.
set -euo pipefail
image=${1:?usage: bench/pipeline_gpu.sh IMAGE MASK [OUTDIR]}
mask=${2:?usage: bench/pipeline_gpu.sh IMAGE MASK [OUTDIR]}
out=${3:-/tmp/segq-gpu}
deps=${DEPS:?set DEPS to the folder with include/ and lib/}
niter=${SEGQ_GPU_NITER:-20}
mkdir -p "$out"
b=$(mktemp -d)

tp=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
abi=$(python3 -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
cuda=${CUDA_HOME:-/usr/local/cuda}
echo "== torch $(python3 -c 'import torch; print(torch.__version__)'), CUDA at $cuda"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

start=$(date +%s)
# torch 2.x headers no longer bring at::NoGradGuard in through ATen.h
cxx="g++ -O2 -std=c++17 -include ATen/core/grad_mode.h -D_GLIBCXX_USE_CXX11_ABI=$abi -DSEGQ_TORCH_CUDA=1 -Ipipeline/torch \
  -I$tp/include -I$tp/include/torch/csrc/api/include -I$cuda/include -w"
cc="gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Ipipeline -Ipipeline/torch \
  -Ipipeline/image -Ipipeline/safetensors -Iproto -I$deps/include -w"
pids=()
for f in pipeline/torch/*.cpp; do
  $cxx -c "$f" -o "$b/$(basename "$f").o" & pids+=($!)
done
for f in pipeline/*.c pipeline/image/*.c pipeline/safetensors/*.c proto/segq_sha256.c; do
  $cc -c "$f" -o "$b/$(basename "$f").o" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
g++ -o "$b/segq-run" "$b"/*.o -L"$tp/lib" -Wl,-rpath,"$tp/lib" -Wl,--no-as-needed \
  -ltorch -ltorch_cuda -ltorch_cpu -lc10_cuda -lc10 -Wl,--as-needed \
  "$deps/lib/libpng16.a" "$deps/lib/libjpeg.a" "$deps/lib/libjansson.a" "$deps/lib/libz.a" \
  -L"$cuda/lib64" -lcudart -lm -lpthread
echo "== built in $(( $(date +%s) - start )) s"
run="$b/segq-run"
# BUILD_ONLY=1: just build, print the binary's path last
if [ -n "${BUILD_ONLY:-}" ]; then echo "$run"; exit 0; fi
$run devices | tee "$out/devices.json"

for precision in fp32 bf16; do
  echo "== train, default parameters, $niter iterations per scale, $precision on cuda:0"
  $run train --image "$image" --mask "$mask" --out "$out/train-$precision" --niter "$niter" \
    --device cuda:0 --precision "$precision" --seed 1 --previews 2 2>&1 \
    | tee "$out/train-$precision.log" | grep -E '^(training|scale)'
done
for precision in fp32 bf16; do
  for batch in 50 200; do
    echo "== generate 500 at full size, batch $batch, $precision (fp32 checkpoint)"
    $run generate --model "$out/train-fp32/model.safetensors" --count 500 --batch "$batch" \
      --out "$out/gen-$precision-$batch" --device cuda:0 --precision "$precision" --seed 1 \
      | tail -1
  done
done
