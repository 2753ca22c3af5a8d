#!/usr/bin/env bash
# tests/gpu/link_segq_run.sh: links segq-run from a bundle's C part
# (tests/gpu/bundle.sh) and a torch shim built against the libtorch in
# TORCH_LIB, as a GPU node without Debian's -dev packages does
# (tests/gpu/device_check.sh). With libtorch_cuda in TORCH_LIB it links the
# CUDA libraries too; without, a CPU libtorch (CI checks the bundle so).
#
#   tests/gpu/link_segq_run.sh BUNDLE_DIR SHIM_ARCHIVE TORCH_LIB OUT
set -euo pipefail
bundle=${1:?usage: $0 BUNDLE_DIR SHIM_ARCHIVE TORCH_LIB OUT}
shim=${2:?usage: $0 BUNDLE_DIR SHIM_ARCHIVE TORCH_LIB OUT}
torch_lib=${3:?usage: $0 BUNDLE_DIR SHIM_ARCHIVE TORCH_LIB OUT}
out=${4:?usage: $0 BUNDLE_DIR SHIM_ARCHIVE TORCH_LIB OUT}
torch=(-ltorch -ltorch_cpu -lc10)
if ls "$torch_lib"/libtorch_cuda.so* >/dev/null 2>&1; then
  cudart=$(find /usr/local/cuda/lib64 /usr/local/cuda/targets/*/lib "$torch_lib/../../nvidia" \
    -name 'libcudart.so*' 2>/dev/null | sort | head -n 1)
  torch=(-ltorch -ltorch_cuda -ltorch_cpu -lc10_cuda -lc10 "${cudart:--lcudart}")
fi
# the group: the static libraries refer to one another in every direction
g++ -o "$out" "$bundle/obj/segq_run.c.o" \
  -Wl,--start-group "$bundle"/obj/*.a "$shim" -Wl,--end-group \
  -L"$torch_lib" -Wl,-rpath,"$torch_lib" -Wl,--no-as-needed "${torch[@]}" -Wl,--as-needed \
  "$bundle/lib/libjansson.so.4" "$bundle/lib/libcairo.so.2" "$bundle/lib/libpng16.so.16" \
  "$bundle/lib/libjpeg.so.62" -Wl,-rpath-link,"$bundle/lib" -lm -lpthread
