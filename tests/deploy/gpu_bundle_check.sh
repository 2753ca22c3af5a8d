#!/usr/bin/env bash
# gpu_bundle_check.sh BUILD_DIR: what a GPU node without Debian's -dev
# packages is sent (tests/gpu/bundle.sh) links segq-run as the node links
# it (tests/gpu/link_segq_run.sh), here against Debian's CPU libtorch and
# the shim built here, and that segq-run trains and generates with the
# bundle's libraries; and that the node's shim check still builds. A static
# library segq-run gained and the bundle left out, or a shim call the check
# still makes and the shim renamed, fails here, not on a lent GPU.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
build=$(cd "$1" && pwd)
tmp=$(mktemp -d /tmp/segq-bundle-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
torch_lib=$(dirname "$(realpath "$(find /usr/lib -name 'libtorch.so' | head -n 1)")")

bash "$here/../gpu/bundle.sh" "$build" "$tmp/bundle" >"$tmp/bundle.log" 2>&1 \
    || { cat "$tmp/bundle.log"; fail "bundle.sh failed"; finish gpu_bundle_check; }
run=$tmp/segq-run
"$here/../gpu/link_segq_run.sh" "$tmp/bundle" "$build/pipeline/torch/libsegq_torch.a" \
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

# the node's shim check (tests/torch/gpu) against the shim's API as it is
# now; without CUDA it must say so and fail
src=$here/../..
gcc -std=gnu11 -Wall -Wextra -Werror -I"$src/pipeline/torch" -I"$src/base" \
    "$src/tests/torch/gpu/torch_gpu_check.c" "$build/pipeline/torch/libsegq_torch.a" \
    -L"$torch_lib" -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10 -Wl,--as-needed -lstdc++ -lm \
    -o "$tmp/torch_gpu_check" >"$tmp/check.log" 2>&1 \
    || { tail -n 20 "$tmp/check.log"; fail "tests/torch/gpu/torch_gpu_check.c does not build"; }
if [ -x "$tmp/torch_gpu_check" ]; then
    "$tmp/torch_gpu_check" >"$tmp/check-run.log" 2>&1 && fail "the GPU check passed without a GPU"
    grep -q "CUDA build 0" "$tmp/check-run.log" || { cat "$tmp/check-run.log"; fail "GPU check"; }
fi
finish gpu_bundle_check
