#!/usr/bin/env bash
# tests/gpu/queue_gpu_check.sh: the queue's GPU half on a real GPU node, with
# real segqd, segq-worker, segq and a CUDA segq-run. CI has no GPU, so this
# is run by hand (or by tests/gpu/device_check.sh) where one is lent:
#
#   tests/gpu/queue_gpu_check.sh BUILD_DIR IMAGE MASK
#
# BUILD_DIR has broker/segqd, worker/segq-worker, client/segq and
# pipeline/segq-run (built against a CUDA libtorch). IMAGE/MASK: a real pair
# (the memory check trains at the default 250 px). Checks, each printed as
# PASS or FAIL (exit 1 if any failed):
#   1. the worker finds the node's GPUs itself (segq-run devices) and
#      announces what nvidia-smi shows (CUDA's total memory is what the
#      driver leaves usable: up to 1% under nvidia-smi's figure);
#   2. two trainings declaring 2 GiB each run on the same GPU at once, each
#      child held to its declaration (its log) and seeing the GPU the broker
#      chose (CUDA_VISIBLE_DEVICES);
#   3. a training that declares far less than it needs fails with the reason
#      "out of GPU memory with N GiB declared", and the same training with
#      enough declared succeeds: the cap, not the GPU, refused it.
set -uo pipefail

build=$(cd "${1:?usage: $0 BUILD_DIR IMAGE MASK}" && pwd)
image=$(realpath "${2:?usage: $0 BUILD_DIR IMAGE MASK}")
mask=$(realpath "${3:?usage: $0 BUILD_DIR IMAGE MASK}")
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/deploy/local_queue.sh"
segq=$build/client/segq
tmp=$(mktemp -d "${TMPDIR:-/tmp}/segq-gpu-XXXXXX")
trap 'local_queue_stop --now; rm -rf "$tmp"' EXIT

failures=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
# json EXPR: evaluates a Python expression over the JSON document on stdin (d).
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
state() { "$segq" status --json "$1" | json 'd[0]["state"]'; }
wait_jobs() { timeout 600 "$segq" wait "$@" >/dev/null; }

local_queue_start "$build" "$tmp/queue" 4 auto || exit 1

# 1. discovery
workers=$("$segq" workers --json)
announced=$(echo "$workers" | json '"\n".join("%s,%d" % (g["name"], g["mem_total"] // 2**20) for w in d for g in w["gpus"])')
smi=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits | sed 's/, /,/')
echo "worker announced (name, MiB): $announced"
echo "nvidia-smi (name, MiB):       $smi"
same=$(paste -d, <(echo "$announced") <(echo "$smi") |
  awk -F, '$1 != $3 || $2 > $4 || $2 < 0.99 * $4 {bad = 1} END {print (NR > 0 && !bad)}')
if [ -n "$smi" ] && [ "$(echo "$announced" | wc -l)" = "$(echo "$smi" | wc -l)" ] && [ "$same" = 1 ]; then
  pass "the worker found the GPUs nvidia-smi shows (names; memory within 1%)"
else
  fail "the worker announced '$announced', nvidia-smi shows '$smi'"
fi

# 2. two jobs share one GPU, each held to its declaration
"$build/pipeline/segq-run" sample --out "$tmp/sample" --seed 3 >/dev/null
small=(train --image "$tmp/sample/image.png" --mask "$tmp/sample/mask.png" --max-size 64
  --niter 300 --previews 0 --gpu-mem 2G)
a=$("$segq" submit "${small[@]}" --seed 1)
b=$("$segq" submit "${small[@]}" --seed 2)
together=
for _ in $(seq 1 600); do
  both=$("$segq" status --json "$a" "$b" | json '" ".join("%s@%s" % (j["state"], j["gpu"]) for j in d)')
  if [ "$both" = "running@0 running@0" ]; then
    together=1
    # what each child was given: the GPU the broker chose, numbered as nvidia-smi does
    for p in /proc/[0-9]*; do
      tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q 'segq-run train' || continue
      tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -E '^CUDA_(VISIBLE_DEVICES|DEVICE_ORDER)=' |
        sort | tr '\n' ' '
      echo "(segq-run pid ${p#/proc/})"
    done >"$tmp/child-env"
    break
  fi
  case $both in *succeeded*|*failed*) break ;; esac
  sleep 0.1
done
if [ -n "$together" ]; then pass "two 2 GiB trainings ran on GPU 0 at the same time"
else fail "the two 2 GiB trainings never ran together (last seen: $both)"; fi
cat "$tmp/child-env" 2>/dev/null
if [ "$(grep -c '^CUDA_DEVICE_ORDER=PCI_BUS_ID CUDA_VISIBLE_DEVICES=0 ' "$tmp/child-env" 2>/dev/null)" = 2 ]; then
  pass "both children saw CUDA_VISIBLE_DEVICES=0 with CUDA_DEVICE_ORDER=PCI_BUS_ID"
else fail "the children's CUDA environment is not the broker's choice (above)"; fi
if wait_jobs "$a" "$b"; then pass "both trainings succeeded on the GPU"
else fail "a shared-GPU training failed: $("$segq" status --json "$a" "$b" | json '[j["reason"] for j in d]')"; fi
for j in "$a" "$b"; do
  held=$("$segq" logs "$j" | grep -m1 'GPU memory: held to')
  case $held in
    *"held to 2.00 GiB"*"on cuda:0"*) pass "$j: $held" ;;
    *) fail "$j: its log does not show the 2 GiB cap on cuda:0 ('$held')" ;;
  esac
done

# 3. the declaration is enforced: too little fails with the reason, enough succeeds
full=(train --image "$image" --mask "$mask" --niter 2 --previews 0)
tight=$("$segq" submit "${full[@]}" --gpu-mem 160M --max-attempts 1)
wait_jobs "$tight"
reason=$("$segq" status --json "$tight" | json 'd[0]["reason"]')
echo "160 MiB declared: $(state "$tight"): $reason"
case $(state "$tight"):$reason in
  failed:*"out of GPU memory with"*"declared"*) pass "a training over its 160 MiB failed with: $reason" ;;
  *) fail "a training declaring 160 MiB did not fail as out of GPU memory" ;;
esac
roomy=$("$segq" submit "${full[@]}" --gpu-mem 8G)
if wait_jobs "$roomy"; then pass "the same training with 8 GiB declared succeeded"
else fail "the same training with 8 GiB failed: $("$segq" status --json "$roomy" | json 'd[0]["reason"]')"; fi

local_queue_stop
echo "queue GPU check: $failures failure(s)"
[ "$failures" -eq 0 ]
