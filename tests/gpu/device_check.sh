#!/usr/bin/env bash
# tests/gpu/device_check.sh: the GPU checks, run from the repository root on
# a GPU node that has CUDA, CMake and a pip (CUDA) torch but none of
# Debian's -dev packages, with a bundle from tests/gpu/bundle.sh:
#
#   tests/gpu/device_check.sh BUNDLE_DIR RESULTS_DIR
#
# 1. builds the torch shim with CMake against the node's CUDA libtorch
#    (-DTorch_DIR, unchanged sources) and links segq-run from it and the C
#    part built on the CPU node; 2. `segq-run devices`; 3. the shim's GPU
#    check (tests/torch/gpu: CUDA against CPU results); 4. the queue on the
#    GPU (tests/gpu/queue_gpu_check.sh); 5. `make demo`'s pipeline with
#    every job on the GPU, stylize included (random VGG19 weights written
#    by torchvision here and converted by deploy/convert_vgg19.py);
#    6. figures: bench/pipeline_gpu.sh beside the authors' code, and
#    stylize seconds per step;
#    7. evaluate seconds per epoch (600 pairs at 128x128);
#    8. the generation service on the GPU, a hot model against a cold one
#    (bench/generate_hot.sh: 16 pairs fetched, and 500).
# SEGQ_GPU_CHECK_STEPS="queue evaluate" (names: devices shim queue demo
# train figures stylize evaluate hot) runs only those after the build. Prints PASS/FAIL lines
# and a summary; logs go to RESULTS_DIR.
set -uo pipefail
bundle=$(realpath "${1:?usage: $0 BUNDLE_DIR RESULTS_DIR}")
results=$(mkdir -p "${2:?usage: $0 BUNDLE_DIR RESULTS_DIR}" && realpath "$2")
work=$(mktemp -d "${TMPDIR:-/tmp}/segq-device-XXXXXX")
export LD_LIBRARY_PATH=$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
failures=0
t0=$(date +%s)
step() { echo; echo "== [$(($(date +%s) - t0)) s] $*"; }
wanted() { [ -z "${SEGQ_GPU_CHECK_STEPS:-}" ] || [[ " $SEGQ_GPU_CHECK_STEPS " == *" $1 "* ]]; }
check() { # NAME COMMAND...: runs it, logs to RESULTS_DIR/NAME.log, PASS/FAIL
  local name=$1
  shift
  if "$@" >"$results/$name.log" 2>&1; then echo "PASS $name"
  else echo "FAIL $name (exit $?), the end of its log:"; tail -n 25 "$results/$name.log"
    failures=$((failures + 1)); fi
}

step "the node"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
torch_dir=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')/Torch
torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
echo "torch $(python3 -c 'import torch; print(torch.__version__, torch.version.cuda)'); $(g++ --version | head -n 1); $(cmake --version | head -n 1)"

step "1. build: the shim with CMake against this libtorch, then segq-run"
check cmake_configure cmake -S tests/torch/gpu -B "$work/gpu" -DTorch_DIR="$torch_dir" -DCMAKE_BUILD_TYPE=Release
check cmake_build cmake --build "$work/gpu" -j "$(nproc)"
b=$work/build
mkdir -p "$b/broker" "$b/worker" "$b/client" "$b/pipeline"
cp "$bundle/bin/segqd" "$b/broker/" && cp "$bundle/bin/segq-worker" "$b/worker/" &&
  cp "$bundle/bin/segq" "$b/client/"
check link_segq_run tests/gpu/link_segq_run.sh "$bundle" "$work/gpu/segq_torch/libsegq_torch.a" \
  "$torch_lib" "$b/pipeline/segq-run"
run=$b/pipeline/segq-run
if [ ! -x "$run" ]; then echo "no segq-run: nothing else can run"; exit 1; fi

if wanted devices; then
step "2. segq-run devices"
check devices "$run" devices
cat "$results/devices.log"
fi

if wanted shim; then
step "3. the shim on CUDA against the CPU (tests/torch/gpu)"
check torch_gpu_check "$work/gpu/torch_gpu_check"
grep -E '^(FAIL|ok|PASS|time|conv)' "$results/torch_gpu_check.log" | head -n 20
fi

if wanted queue; then
step "4. the queue on the GPU"
check queue_gpu_check timeout 420 tests/gpu/queue_gpu_check.sh "$b" "$bundle/data/image.jpg" "$bundle/data/mask.jpg"
grep -E '^(PASS|FAIL|worker|nvidia|160|CUDA)' "$results/queue_gpu_check.log"
fi

if wanted demo; then
step "5. the demo pipeline with every job on the GPU, stylize included (random VGG19)"
python3 -c 'import torch, torchvision; torch.save(torchvision.models.vgg19().state_dict(), "'"$work"'/vgg19.pth")' &&
  python3 deploy/convert_vgg19.py "$work/vgg19.pth" "$work/vgg19.safetensors" >/dev/null
check demo env SEGQ_DEMO_GPU=4G SEGQ_VGG19="$work/vgg19.safetensors" SEGQ_DEMO_OUT="$work/demo" \
  timeout 300 bash deploy/demo.sh "$b"
grep -E '^(done in|jobs done|    )' "$results/demo.log"
cp "$work/demo/evaluation/chart.png" "$results/demo_chart.png" 2>/dev/null
cp "$work/demo/stylized/contact_sheet.png" "$results/demo_stylized.png" 2>/dev/null
fi

if wanted train; then
step "5b. a short training each way: plain steps, then CUDA graphs"
for g in off on; do
  check train_graph_$g timeout 120 "$run" train --image "$bundle/data/image.jpg" \
    --mask "$bundle/data/mask.jpg" --out "$work/train-$g" --niter 10 --device cuda:0 --seed 1 \
    --previews 0 --cuda-graph $g
  grep -E '^(training|scale|  time)|capture' "$results/train_graph_$g.log"
done
fi

if wanted figures; then
step "6. figures, side by side with the authors' code"
cp -r "$bundle/reference/singan-seg" "$work/singan-seg"
check bench_gpu env SEGQ_GPU_MPS=1 SEGQ_AUTHORS_TIME="$bundle/reference/authors_time.py" \
  SEGQ_AUTHORS_DIR="$work/singan-seg" timeout 500 bench/pipeline_gpu.sh "$run" \
  "$bundle/data/image.jpg" "$bundle/data/mask.jpg" "$work/bench"
grep -vE '^(==|\[|nvidia)' "$results/bench_gpu.log" | grep -E '^(\||[a-zA-Z0-9])'
for f in dmon.log graph-fp32.log eager-fp32.log graph-bf16.log authors.log conc8-1.log; do
  cp "$work/bench/$f" "$results/bench_$f" 2>/dev/null
done
fi

if wanted stylize; then
step "6b. stylize seconds per step"
"$run" generate --model "$work/bench/graph-fp32/model.safetensors" --count 8 --out "$work/gen8" \
  --device cuda:0 --seed 2 >/dev/null
for p in fp32 bf16; do
  "$run" stylize --content "$work/gen8" --style "$bundle/data/image.jpg" \
    --vgg19 "$work/vgg19.safetensors" --out "$work/sty-$p" --steps 50 --batch 8 --log-every 50 \
    --device cuda:0 --precision $p 2>&1 | tail -n 1 | sed "s/^/stylize 8 images of 213x250, batch 8, $p: /"
done
fi

if wanted evaluate; then
step "7. evaluate: seconds per epoch, 600 pairs at 128x128"
check evaluate_gpu env EPOCHS=2 DEVICE=cuda:0 timeout 300 bench/pipeline_evaluate.sh "$run" "$bundle/data"
tail -n 1 "$results/evaluate_gpu.log"
fi

if wanted hot; then
step "8. the generation service: 16 pairs from a hot model against a cold one, then 500"
check generate_hot timeout 300 bench/generate_hot.sh "$b" 5 4 auto 50 500
grep -vE '^(training|\[)' "$results/generate_hot.log" | tail -n 12
fi

step "done: $failures failure(s) in $(($(date +%s) - t0)) s"
# SEGQ_GPU_KEEP=1 keeps the build (segq-run in WORK/build/pipeline) for more runs
if [ -n "${SEGQ_GPU_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
[ "$failures" -eq 0 ]
