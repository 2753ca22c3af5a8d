#!/usr/bin/env bash
# tests/gpu/bundle.sh: pack what a GPU node without Debian's -dev packages
# needs to build and run segq there, for tests/gpu/device_check.sh.
#
#   tests/gpu/bundle.sh BUILD_DIR OUT_DIR
#
# BUILD_DIR: a release build made here (segqd, segq-worker, segq, segq-run).
# OUT_DIR gets:
#   bin/   segqd, segq-worker, segq (they do not link libtorch: they run as built)
#   obj/   segq-run's C part (its main object and the static C libraries);
#          only the C++ shim is compiled there, against that node's libtorch
#   lib/   the shared libraries all of them need beyond glibc and libstdc++
#          (ZeroMQ, CZMQ, msgpack-c, SQLite, libpng, libjpeg, jansson, cairo
#          and theirs), by soname, for LD_LIBRARY_PATH there
#   data/  the benchmark's Kvasir-SEG pair and 608 kvasir-seg-256 pairs for
#          evaluate's (../shared/data does not travel)
#   reference/  the authors' code and authors_time.py (../shared/reference)
# A GPU node with the -dev packages needs none of this: `make build
# TORCH_DIR=...` builds everything there.
set -euo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR OUT_DIR}" && pwd)
out=${2:?usage: $0 BUILD_DIR OUT_DIR}
here=$(cd "$(dirname "$0")/../.." && pwd)
data=${SEGQ_DATA_DIR:-$here/../shared/data}
pair=cju0qkwl35piu0993l0dewei2

rm -rf "$out"
mkdir -p "$out/bin" "$out/obj" "$out/lib" "$out/data"
for b in broker/segqd worker/segq-worker client/segq; do
  strip --strip-debug -o "$out/bin/$(basename $b)" "$build/$b"
done
strip --strip-debug -o "$out/obj/segq_run.c.o" "$build/pipeline/CMakeFiles/segq-run.dir/segq_run.c.o"
# segq-run's static C libraries, as its link line names them (relative to
# pipeline/), the shim aside: that node compiles its own
for a in $(tr ' ' '\n' <"$build/pipeline/CMakeFiles/segq-run.dir/link.txt" |
  grep '\.a$' | grep -v 'libsegq_torch\.a$'); do
  strip --strip-debug -o "$out/obj/$(basename "$a")" "$build/pipeline/$a"
done

# The C libraries segq-run links by name, and everything these and the
# daemons load, minus glibc and the C++ runtime (the node has its own).
linked="libpng16.so.16 libjpeg.so.62 libjansson.so.4 libcairo.so.2"
sys=/usr/lib/x86_64-linux-gnu
{
  for l in $linked; do echo "$sys/$l"; done
  for f in "$out"/bin/* $(for l in $linked; do echo "$sys/$l"; done); do
    ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
  done
} | sort -u | while read -r path; do
  case $(basename "$path") in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libresolv.so.*|ld-linux*|libstdc++.so.*|libgcc_s.so.*) ;;
    *) cp -L "$path" "$out/lib/$(basename "$path")" ;;
  esac
done

cp "$data/kvasir-seg-orig/images/$pair.jpg" "$out/data/image.jpg"
cp "$data/kvasir-seg-orig/masks/$pair.jpg" "$out/data/mask.jpg"
mkdir -p "$out/data/kvasir-seg-256/images" "$out/data/kvasir-seg-256/masks"
for f in $(ls "$data/kvasir-seg-256/images" | sort | head -n 608); do
  cp "$data/kvasir-seg-256/images/$f" "$out/data/kvasir-seg-256/images/"
  cp "$data/kvasir-seg-256/masks/$f" "$out/data/kvasir-seg-256/masks/"
done
# the authors' code, timed beside ours by bench/pipeline_gpu.sh
mkdir -p "$out/reference"
cp -r "$here/../shared/reference/singan-seg" "$here/../shared/reference/authors_time.py" \
  "$out/reference/"
echo "bundle: $(du -sh "$out" | cut -f1) in $out ($(ls "$out/lib" | wc -l) shared libraries)"
