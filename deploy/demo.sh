#!/usr/bin/env bash
# deploy/demo.sh: segq in under a minute. Starts a broker (segqd) and a
# worker in a temporary directory on a free loopback port, runs a few test
# jobs through them (a sleep with progress, an echo of a file, a chain of
# three dependent echo jobs, one that fails), waits, shows status, fetches
# an output, and stops everything. `make demo` runs it after building.
#
#   deploy/demo.sh [BUILD_DIR]      (default build/release)
set -euo pipefail

build=${1:-build/release}
segqd=$build/broker/segqd
worker=$build/worker/segq-worker
segq=$build/client/segq
for b in "$segqd" "$worker" "$segq"; do
  if [ ! -x "$b" ]; then
    echo "demo: $b is not built: run \`make build\` (or pass the build directory)" >&2
    exit 1
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/segq-demo-XXXXXX")
broker_pid=
worker_pid=
cleanup() {
  for pid in $worker_pid $broker_pid; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $worker_pid $broker_pid; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# Wait for a ready file (written by segqd / segq-worker once serving).
wait_ready() {
  local file=$1 pid=$2 what=$3
  for _ in $(seq 1 200); do
    if [ -s "$file" ]; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo: $what exited; its log:" >&2
      cat "$tmp/$what.log" >&2
      exit 1
    fi
    sleep 0.05
  done
  echo "demo: $what did not become ready in 10 s; its log:" >&2
  cat "$tmp/$what.log" >&2
  exit 1
}

step "starting segqd and one worker in $tmp"
"$segqd" --bind 'tcp://127.0.0.1:*' --data-dir "$tmp/broker" --ready-file "$tmp/segqd.ready" \
  >"$tmp/segqd.log" 2>&1 &
broker_pid=$!
wait_ready "$tmp/segqd.ready" "$broker_pid" segqd
SEGQ_BROKER=$(head -n 1 "$tmp/segqd.ready")
export SEGQ_BROKER
echo "broker on $SEGQ_BROKER (SEGQ_BROKER tells the CLI where it is)"
"$worker" --node demo-node --cpu-slots 2 --work-dir "$tmp/work" --cache-dir "$tmp/cache" \
  --ready-file "$tmp/worker.ready" >"$tmp/segq-worker.log" 2>&1 &
worker_pid=$!
wait_ready "$tmp/worker.ready" "$worker_pid" segq-worker
run "$segq" workers

step "submitting jobs"
echo "Hello from segq: this file went client -> broker -> worker -> broker -> client." >"$tmp/hello.txt"
printf '$ segq submit sleep --param seconds=2\n'
sleep_job=$("$segq" submit sleep --param seconds=2)
echo "$sleep_job"
printf '$ segq submit echo --input files=hello.txt\n'
echo_job=$("$segq" submit echo --input "files=$tmp/hello.txt")
echo "$echo_job"
printf '$ segq submit echo --input files=%s   (and one more link: a chain of three)\n' "$echo_job"
chain2=$("$segq" submit echo --input "files=$echo_job")
chain3=$("$segq" submit echo --input "files=$chain2")
echo "$chain2 $chain3"
printf '$ segq submit fail --param code=3\n'
fail_job=$("$segq" submit fail --param code=3)
echo "$fail_job"
printf '$ segq submit sleep --param seconds=abc    (refused before anything is sent)\n'
"$segq" submit sleep --param seconds=abc || echo "(exit status $?)"

step "waiting (exit status 3: one job failed, as it should)"
printf '$ segq wait %s %s %s %s %s\n' "$sleep_job" "$echo_job" "$chain2" "$chain3" "$fail_job"
status=0
"$segq" wait "$sleep_job" "$echo_job" "$chain2" "$chain3" "$fail_job" || status=$?
echo "(exit status $status)"

step "status"
run "$segq" status
run "$segq" status --detail "$chain3"

step "fetching the end of the chain"
run "$segq" fetch "$chain3" -o "$tmp/fetched"
find "$tmp/fetched" -type f -exec cat {} \;

step "a job's log"
run "$segq" logs "$sleep_job"

step "stopping the worker (drain) and the broker"
kill -TERM "$worker_pid"
wait "$worker_pid" 2>/dev/null || true
worker_pid=
kill -TERM "$broker_pid"
wait "$broker_pid" 2>/dev/null || true
broker_pid=
echo "done: everything ran in $tmp, now removed"
