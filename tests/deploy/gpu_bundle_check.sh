#!/usr/bin/env bash
# gpu_bundle_check.sh BUILD_DIR: what a GPU node without Debian's -dev
# packages is sent (tests/gpu/bundle.sh) links segq-run as the node links
# it (tests/gpu/link_segq_run.sh), here against Debian's CPU libtorch and
# the shim built here, and that segq-run trains and generates with the
# bundle's libraries. A static library segq-run gained and the bundle left
# out fails here, not on a lent GPU.
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
finish gpu_bundle_check
