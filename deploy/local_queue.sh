# deploy/local_queue.sh: sourced by deploy/demo.sh and bench scripts. Starts
# a broker (segqd) and one worker on a free loopback port in a directory of
# the caller's, and stops them again.
#
#   . deploy/local_queue.sh
#   local_queue_start BUILD_DIR DIR CPU_SLOTS [GPUS]   # exports SEGQ_BROKER
#   ... segq submit ...
#   local_queue_stop [--now]                    # drain (or kill) the worker, stop the broker
#
# The caller owns DIR and removes it; local_queue_stop is safe to call twice
# (call it from an EXIT trap so Ctrl-C stops the services too). The logs are
# DIR/segqd.log and DIR/segq-worker.log. GPUS: "" (the default) gives a
# CPU-only worker even on a machine that has GPUs; "auto" lets the worker
# find them (`segq-run devices`); anything else is segq-worker's --gpus.
# SEGQ_WORKER_FLAGS (words) go to segq-worker as well (--model-cache 0).

LQ_BROKER_PID=
LQ_WORKER_PID=
LQ_DIR=

# Waits for a ready file (written by segqd / segq-worker once serving).
lq_wait_ready() {
  local file=$1 pid=$2 what=$3
  for _ in $(seq 1 2400); do
    if [ -s "$file" ]; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$what exited; its log:" >&2
      cat "$LQ_DIR/$what.log" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "$what did not become ready in 120 s; its log:" >&2
  cat "$LQ_DIR/$what.log" >&2
  return 1
}

local_queue_start() {
  local build cpu_slots=$3 gpus=${4:-} b
  build=$(cd "$1" && pwd) # the worker runs segq-run from each job's directory
  LQ_DIR=$2
  for b in broker/segqd worker/segq-worker client/segq pipeline/segq-run; do
    if [ ! -x "$build/$b" ]; then
      echo "$build/$b is not built: run \`make build\` (or pass the build directory)" >&2
      return 1
    fi
  done
  mkdir -p "$LQ_DIR"
  "$build/broker/segqd" --bind 'tcp://127.0.0.1:*' --data-dir "$LQ_DIR/broker" \
    --ready-file "$LQ_DIR/segqd.ready" >"$LQ_DIR/segqd.log" 2>&1 &
  LQ_BROKER_PID=$!
  lq_wait_ready "$LQ_DIR/segqd.ready" "$LQ_BROKER_PID" segqd || return 1
  SEGQ_BROKER=$(head -n 1 "$LQ_DIR/segqd.ready")
  export SEGQ_BROKER
  local gpu_flag=(--gpus "$gpus")
  if [ "$gpus" = auto ]; then gpu_flag=(); fi
  "$build/worker/segq-worker" --node "$(hostname -s 2>/dev/null || echo local)" "${gpu_flag[@]}" \
    --cpu-slots "$cpu_slots" --segq-run "$build/pipeline/segq-run" \
    --work-dir "$LQ_DIR/work" --cache-dir "$LQ_DIR/cache" \
    --ready-file "$LQ_DIR/segq-worker.ready" ${SEGQ_WORKER_FLAGS:-} >"$LQ_DIR/segq-worker.log" 2>&1 &
  LQ_WORKER_PID=$!
  lq_wait_ready "$LQ_DIR/segq-worker.ready" "$LQ_WORKER_PID" segq-worker || return 1
}

# Worker first, then the broker. Plain: SIGTERM drains the worker (no new
# jobs, running ones finish and are delivered). --now (Ctrl-C, errors): two
# SIGINTs, the second kills the running jobs at once.
local_queue_stop() {
  if [ -n "$LQ_WORKER_PID" ]; then
    if [ "${1:-}" = --now ]; then
      kill -INT "$LQ_WORKER_PID" 2>/dev/null || true
      sleep 0.2
      kill -INT "$LQ_WORKER_PID" 2>/dev/null || true
    else
      kill -TERM "$LQ_WORKER_PID" 2>/dev/null || true
    fi
    wait "$LQ_WORKER_PID" 2>/dev/null || true
  fi
  if [ -n "$LQ_BROKER_PID" ]; then
    kill -TERM "$LQ_BROKER_PID" 2>/dev/null || true
    wait "$LQ_BROKER_PID" 2>/dev/null || true
  fi
  LQ_WORKER_PID=
  LQ_BROKER_PID=
}
