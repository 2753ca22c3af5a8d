#!/usr/bin/env bash
# gpu_bundle_check.sh BUILD_DIR: the GPU node's first step, here against
# Debian's CPU libtorch: the shim and its check built with their own CMake
# project (tests/torch/gpu), segq-run linked from what the node is sent
# (tests/gpu/bundle.sh) and that shim (tests/gpu/link_segq_run.sh); then
# segq-run trains and generates with the bundle's libraries. A static
# library segq-run gained and the bundle left out, a shim call the check
# still makes and the shim renamed, or a mistake in that CMake project
# fails here, not on a lent GPU.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
build=$(cd "$1" && pwd)
tmp=$(mktemp -d /tmp/segq-bundle-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
torch_lib=$(dirname "$(realpath "$(find /usr/lib -name 'libtorch.so' | head -n 1)")")
torch_dir=$(dirname "$(find /usr/lib /usr/share -name TorchConfig.cmake | head -n 1)")
src=$here/../..

# as device_check.sh's step 1: the shim and its check, then segq-run
cmake -S "$src/tests/torch/gpu" -B "$tmp/gpu" -DTorch_DIR="$torch_dir" -DCMAKE_BUILD_TYPE=Release \
    >"$tmp/gpu.log" 2>&1 && cmake --build "$tmp/gpu" -j 2 >>"$tmp/gpu.log" 2>&1 \
    || { tail -n 30 "$tmp/gpu.log"; fail "tests/torch/gpu does not build"; finish gpu_bundle_check; }

bash "$here/../gpu/bundle.sh" "$build" "$tmp/bundle" >"$tmp/bundle.log" 2>&1 \
    || { cat "$tmp/bundle.log"; fail "bundle.sh failed"; finish gpu_bundle_check; }
run=$tmp/segq-run
"$here/../gpu/link_segq_run.sh" "$tmp/bundle" "$tmp/gpu/segq_torch/libsegq_torch.a" \
    "$torch_lib" "$run" >"$tmp/link.log" 2>&1 \
    || { tail -n 30 "$tmp/link.log"; fail "segq-run did not link from the bundle"; finish gpu_bundle_check; }
export LD_LIBRARY_PATH=$tmp/bundle/lib
"$run" devices >"$tmp/devices.log" 2>&1 || { cat "$tmp/devices.log"; fail "segq-run devices"; }
data=$tmp/bundle/data
"$run" train --image "$data/image.jpg" --mask "$data/mask.jpg" --out "$tmp/model" --max-size 24 \
    --min-size 12 --niter 2 --nfc 8 --nfc-max 8 --previews 0 >"$tmp/train.log" 2>&1 \
    || { tail -n 20 "$tmp/train.log"; fail "segq-run train from the bundle"; }
"$run" generate --model "$tmp/model/model.safetensors" --count 2 --out "$tmp/pairs" \
    >"$tmp/generate.log" 2>&1 || { tail -n 20 "$tmp/generate.log"; fail "segq-run generate"; }
expect_file "$tmp/pairs/manifest.csv"

# the node's shim check: without CUDA it must say so and fail
"$tmp/gpu/torch_gpu_check" >"$tmp/check-run.log" 2>&1 && fail "the GPU check passed without a GPU"
grep -q "CUDA build 0" "$tmp/check-run.log" || { cat "$tmp/check-run.log"; fail "GPU check"; }
finish gpu_bundle_check
